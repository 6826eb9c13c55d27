"""Composition features equal matminer's; CGCNN atom features match the published table."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, DummySpecies, Element, Lattice, Structure

from hybridlib.data import DataFormatError

from hybridlib.features import (CGCNN_ATOM_FEATURE_DIM, cgcnn_atom_features,
                                composition_features, feature_labels, feature_names,
                                featurize_frame)
from hybridlib.features import atoms as atoms_module
from hybridlib.features import composition as composition_module


def _matminer(preset: str, compositions, impute_nan: bool = True) -> np.ndarray:
    from matminer.featurizers.base import MultipleFeaturizer
    from matminer.featurizers.composition import (ElementProperty, IonProperty, Stoichiometry,
                                                  ValenceOrbital)

    magpie = ElementProperty.from_preset("magpie", impute_nan=impute_nan)
    featurizer = magpie if preset == "magpie" else MultipleFeaturizer([
        Stoichiometry(), magpie, ValenceOrbital(props=["frac"], impute_nan=impute_nan),
        IonProperty(fast=True, impute_nan=impute_nan)])
    featurizer.set_n_jobs(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(featurizer.featurize_many(list(compositions), pbar=False), dtype=float)


def _assert_same(ours: np.ndarray, reference: np.ndarray, rtol: float = 1e-9) -> None:
    assert ours.shape == reference.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=0.0, equal_nan=True)


@pytest.fixture(scope="module")
def compositions(mp_small, mp_sample):
    """300 real compositions plus every noble-gas material of the sample."""
    noble = mp_sample[mp_sample["formula"].str.contains(r"He|Ne|Ar|Kr|Xe")]
    return [s.composition for s in list(mp_small["structure"]) + list(noble["structure"])]


@pytest.mark.parametrize("preset, width", [("magpie", 132), ("ward2016", 145)])
def test_equal_to_matminer_on_real_compositions(compositions, preset, width):
    ours = composition_features(compositions, preset)
    assert list(ours.columns) == feature_labels(preset)
    assert ours.shape == (len(compositions), width)
    _assert_same(ours.to_numpy(), _matminer(preset, compositions))


def test_labels_are_matminers_in_order():
    from matminer.featurizers.composition import ElementProperty, Stoichiometry

    magpie = ElementProperty.from_preset("magpie").feature_labels()
    assert feature_labels("magpie") == magpie
    ward = feature_labels("ward2016")
    assert ward[:6] == Stoichiometry().feature_labels() and ward[6:138] == magpie
    assert ward[-3:] == ["compound possible", "max ionic char", "avg ionic char"]


def test_nan_exactly_where_matminer_without_imputation(compositions):
    noble = [c for c in compositions if any(e.symbol in {"He", "Ar", "Xe"} for e in c)]
    assert noble, "the sample has noble-gas materials"
    ours = composition_features(compositions, "ward2016", impute_nan=False).to_numpy()
    reference = _matminer("ward2016", compositions, impute_nan=False)
    assert np.isnan(reference).any()  # e.g. Magpie electronegativity of He
    _assert_same(ours, reference)


def test_hand_checked_values():
    features = composition_features(["Fe2O3", "NaCl"], "ward2016")
    fe2o3, nacl = features.iloc[0], features.iloc[1]
    assert fe2o3["0-norm"] == 2 and fe2o3["2-norm"] == pytest.approx(np.sqrt(0.4**2 + 0.6**2))
    # Fe Z=26, O Z=8: fraction-weighted mean 0.4*26 + 0.6*8
    assert fe2o3["MagpieData mean Number"] == pytest.approx(0.4 * 26 + 0.6 * 8)
    assert fe2o3["MagpieData mode Number"] == 8  # O is the most abundant element
    assert fe2o3["MagpieData range Number"] == 18
    assert fe2o3["compound possible"] == 1.0 and nacl["compound possible"] == 1.0
    assert composition_features(["Na2Cl"], "ward2016")["compound possible"].iat[0] == 0.0
    # mode of a 1:1 compound is the smaller value (matminer's tie rule)
    assert nacl["MagpieData mode Number"] == 11


def test_input_kinds_and_order(mp_small):
    structures = list(mp_small["structure"][:20])
    from_structures = composition_features(structures, "ward2016").to_numpy()
    from_compositions = composition_features([s.composition for s in structures], "ward2016")
    from_formulas = composition_features([s.composition.formula for s in structures], "ward2016")
    np.testing.assert_array_equal(from_structures, from_compositions.to_numpy())
    np.testing.assert_allclose(from_structures, from_formulas.to_numpy(), rtol=1e-12)
    reverse = composition_features(structures[::-1], "ward2016").to_numpy()
    np.testing.assert_array_equal(reverse, from_structures[::-1])
    # element order inside a formula changes nothing but rounding
    np.testing.assert_allclose(composition_features(["O3Fe2"], "ward2016").to_numpy(),
                               composition_features(["Fe2O3"], "ward2016").to_numpy(), rtol=1e-12)


def test_oxidation_state_decorations_are_reduced_to_elements():
    decorated = Composition({"Fe3+": 2, "O2-": 3})
    np.testing.assert_array_equal(composition_features([decorated], "magpie").to_numpy(),
                                  composition_features(["Fe2O3"], "magpie").to_numpy())


@pytest.mark.parametrize("bad, message", [
    (["Fe2O3", "Xx2O"], "#1"),
    ([""], "#0 '' cannot be parsed"),
    ([Composition()], "#0.*is empty"),
    (["NaCl", Composition({DummySpecies("X"): 1})], "#1.*not a chemical element"),
    ([], "no compositions"),
    ([42], "expected a formula"),
])
def test_bad_compositions_raise(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        composition_features(bad, "magpie")


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        composition_features(["NaCl"], "magpie145")


def test_featurize_frame_is_cached_and_rebuilt_when_corrupted(mp_small, monkeypatch, tmp_path):
    df = mp_small.iloc[:25]
    first = featurize_frame(df, "ward2016")
    files = list((tmp_path / "cache" / "features").glob("*.npz"))
    assert len(files) == 1
    np.testing.assert_array_equal(first, composition_features(df["structure"], "ward2016"))

    def fail(*args, **kwargs):
        raise AssertionError("features were recomputed although cached")

    monkeypatch.setattr(composition_module, "composition_features", fail)
    np.testing.assert_array_equal(featurize_frame(df, "ward2016"), first)
    monkeypatch.undo()
    monkeypatch.setenv("HYBRIDLIB_CACHE_DIR", str(tmp_path / "cache"))
    files[0].write_bytes(files[0].read_bytes()[:-10])
    with pytest.warns(UserWarning, match="checksum"):
        rebuilt = featurize_frame(df, "ward2016")
    np.testing.assert_array_equal(rebuilt, first)
    np.testing.assert_array_equal(featurize_frame(df.iloc[::-1], "ward2016"), first[::-1])
    assert len(list((tmp_path / "cache" / "features").glob("*.npz"))) == 2


def _features_files(tmp_path) -> set:
    return set((tmp_path / "cache" / "features").glob("*.npz"))


def test_feature_cache_follows_the_structures_not_the_formula_column(mp_small, tmp_path):
    """The probe: the cache was keyed on ``formula`` but the features built from
    ``structure``, so a table whose structures changed got the old features."""
    df = mp_small.iloc[:5].reset_index(drop=True)
    first = featurize_frame(df, "magpie")
    structures = list(df["structure"])
    swapped = structures[3].copy()
    swapped.replace_species({swapped[0].specie: "Xe" if swapped[0].specie.symbol != "Xe"
                             else "Kr"})
    structures[3] = swapped
    changed = df.assign(structure=structures)  # the stale formula column is left as it was
    second = featurize_frame(changed, "magpie")
    np.testing.assert_array_equal(second, composition_features(structures, "magpie"))
    assert not np.array_equal(second[3], first[3])
    np.testing.assert_array_equal(np.delete(second, 3, axis=0), np.delete(first, 3, axis=0))
    relabelled = df.assign(material_id=[f"other-{i}" for i in range(5)], formula="?")
    np.testing.assert_array_equal(featurize_frame(relabelled, "magpie"), first)
    assert len(_features_files(tmp_path)) == 2  # relabelling is not a change of content


def test_feature_frame_without_structures_uses_the_formulas(tmp_path):
    table = pd.DataFrame({"material_id": ["a", "b"], "formula": ["NaCl", "Fe2O3"]})
    np.testing.assert_array_equal(featurize_frame(table, "magpie"),
                                  composition_features(["NaCl", "Fe2O3"], "magpie"))
    with pytest.raises(DataFormatError, match=r"featurize_frame.*lacks the column\(s\) \['formula'\]"):
        featurize_frame(table.drop(columns="formula"), "magpie")


def test_a_material_that_cannot_be_featurized_is_named(mp_small):
    fake = Structure(Lattice.cubic(4.0), ["Na", "Xx"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    table = mp_small.iloc[:3].assign(structure=[*mp_small["structure"].iloc[:2], fake])
    with pytest.raises(ValueError, match=rf"#2 \({table['material_id'].iat[2]!r}\).*Xx.*not a "
                                         "chemical element"):
        featurize_frame(table, "magpie")


# ----------------------------------------------------------------- CGCNN atom features

# Rows of CGCNN's published atom_init.json (txie-93/cgcnn, data/sample-regression/
# atom_init.json; MIT licence), transcribed as the positions of their ones from the copy in
# neelr/clamp@442518779f4fa0071e0759f9d6f3304341fdd320 (atom_init.json).
PUBLISHED_ONES = {
    1: [1, 19, 30, 36, 46, 64, 73, 78, 86],   # H
    8: [16, 20, 34, 37, 51, 64, 74, 79, 86],  # O
    26: [8, 22, 29, 40, 53, 61, 72, 80, 83],  # Fe
}
BLOCK_SIZES = [19, 7, 10, 10, 12, 10, 10, 4, 10]


def _blocks(row: np.ndarray) -> list[np.ndarray]:
    return np.split(row, np.cumsum(BLOCK_SIZES)[:-1])


def test_atom_feature_table_shape_and_one_hot_blocks():
    table = cgcnn_atom_features()
    assert CGCNN_ATOM_FEATURE_DIM == 92 == sum(BLOCK_SIZES)
    assert table.shape == (atoms_module.MAX_Z + 1, 92) and table.dtype == np.float32
    assert not table[0].any()
    for z in range(1, 101):
        sums = [block.sum() for block in _blocks(table[z])]
        assert all(s in (0.0, 1.0) for s in sums), (z, sums)
        assert sum(sums) >= (7 if z <= 94 else 6), f"element {z} lacks most of its data"
    names = feature_names()
    assert len(names) == 92 == len(set(names))
    assert names[1] == "group=1" and names[26].startswith("electronegativity in (0.5, 0.85]")
    table[1, 0] = 5.0  # a copy: the module's table stays intact
    assert cgcnn_atom_features()[1, 0] == 0.0


def test_matminer_copy_is_the_published_file():
    published = cgcnn_atom_features("published")
    for z, ones in PUBLISHED_ONES.items():
        assert np.flatnonzero(published[z]).tolist() == ones
    assert not published[101:].any()


def test_computed_features_agree_with_published_where_data_agree():
    ours, published = cgcnn_atom_features()[1:101], cgcnn_atom_features("published")[1:101]
    agree = [[(a == b).all() for a, b in zip(_blocks(x), _blocks(y))]
             for x, y in zip(ours, published)]
    per_block = np.array(agree).sum(axis=0)
    # group, period, ionization energy, block: encoding and data agree
    assert per_block[[0, 1, 5, 7]].tolist() == [100, 100, 100, 100]
    symbols = [Element.from_Z(z).symbol for z in range(1, 101)]
    assert [s for s, a in zip(symbols, agree) if not a[4]] == ["Pd"]  # published: 12
    # the rest differ only through element data (module docstring); most still agree
    assert per_block[[2, 6, 8]].min() >= 73 and per_block[3] >= 43
    np.testing.assert_array_equal(cgcnn_atom_features()[8], published[7])  # oxygen, all blocks
    assert np.flatnonzero(cgcnn_atom_features()[26]).tolist() == PUBLISHED_ONES[26]


def test_bins_are_right_closed():
    electronegativity = atoms_module.ATOM_PROPERTIES[2]
    assert electronegativity.slot(Element("Si")) == 3  # X = 1.90 on an edge -> lower bin
    assert electronegativity.slot(Element("Ni")) == 4  # X = 1.91
    assert electronegativity.slot(Element("He")) is None  # no Pauling value
    with pytest.raises(ValueError, match="unknown source"):
        cgcnn_atom_features("mendeleev")
