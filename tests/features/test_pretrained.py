"""hybridlib.features.pretrained: the frozen CHGNet embedding, its cache and its errors."""
from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from hybridlib.features import pretrained as hp


@pytest.fixture(scope="module")
def structures(mp_small):
    return list(mp_small["structure"][:8]), list(mp_small["material_id"][:8])


@pytest.fixture()
def count_computed(monkeypatch):
    """Count the structures CHGNet actually runs on (cache misses)."""
    seen: list[int] = []
    compute = hp._embed

    def counting(model, structures, ids, batch_size):
        seen.append(len(structures))
        return compute(model, structures, ids, batch_size)

    monkeypatch.setattr(hp, "_embed", counting)
    return seen


# ------------------------------------------------------------------ without chgnet

def test_missing_chgnet_gives_the_install_line(monkeypatch, structures):
    monkeypatch.setitem(sys.modules, "chgnet", None)  # import chgnet now fails
    monkeypatch.setitem(sys.modules, "chgnet.model", None)
    with pytest.raises(hp.MissingOptionalDependencyError) as err:
        hp.chgnet_embeddings(structures[0][:1], progress=False)
    message = str(err.value)
    assert "chgnet" in message and 'pip install "hybridlib[pretrained]"' in message
    assert isinstance(err.value, ImportError)


def test_structure_fingerprint_follows_species_positions_and_lattice(structures):
    s = structures[0][0]
    key = hp.structure_fingerprint(s)
    assert hp.structure_fingerprint(Structure.from_dict(s.as_dict())) == key
    jiggled = s.copy()
    jiggled.translate_sites([0], [1e-9, 0, 0], frac_coords=True)
    assert hp.structure_fingerprint(jiggled) == key  # below the 1e-6 resolution
    moved = s.copy()
    moved.translate_sites([0], [1e-3, 0, 0], frac_coords=True)
    strained = s.copy()
    strained.scale_lattice(s.volume * 1.01)
    swapped = s.copy()
    other = "Na" if s[0].specie.symbol != "Na" else "K"
    swapped.replace(0, other)
    keys = {key, *map(hp.structure_fingerprint, (moved, strained, swapped))}
    assert len(keys) == 4


# ------------------------------------------------------------------ with chgnet

needs_chgnet = pytest.mark.skipif(importlib.util.find_spec("chgnet") is None,
                                  reason="the optional package chgnet is not installed")


@needs_chgnet
def test_embeddings_have_the_documented_shape_and_are_deterministic(structures):
    items, ids = structures
    X = hp.chgnet_embeddings(items, ids, progress=False, cache=False)
    assert X.shape == (len(items), hp.EMBEDDING_DIM) == (8, 64)
    assert X.dtype == np.float32 and np.isfinite(X).all()
    assert np.array_equal(X, hp.chgnet_embeddings(items, ids, progress=False, cache=False))
    one_by_one = hp.chgnet_embeddings(items, ids, batch_size=1, progress=False, cache=False)
    np.testing.assert_allclose(one_by_one, X, rtol=0, atol=1e-5)
    assert len({row.tobytes() for row in X}) == len(items)  # different crystals differ
    assert hp.embedding_labels()[:2] == ["chgnet_0", "chgnet_1"]


@needs_chgnet
def test_cache_returns_the_same_rows_in_input_order(structures, count_computed):
    items, ids = structures
    fresh = hp.chgnet_embeddings(items, ids, progress=False, cache=False)
    first = hp.chgnet_embeddings(items, ids, progress=False)
    assert np.array_equal(first, fresh) and sum(count_computed) == 2 * len(items)
    order = [3, 0, 3, 7]
    again = hp.chgnet_embeddings([items[i] for i in order], progress=False)
    assert np.array_equal(again, fresh[order])
    assert sum(count_computed) == 2 * len(items)  # all read from the cache


@needs_chgnet
def test_cache_key_changes_with_the_structure(structures, count_computed):
    items, ids = structures
    base = hp.chgnet_embeddings(items[:2], ids[:2], progress=False)
    moved = items[0].copy()
    moved.translate_sites([0], [0.05, 0, 0], frac_coords=True)
    changed = hp.chgnet_embeddings([moved, items[1]], progress=False)
    assert count_computed == [2, 1]  # only the moved crystal was computed again
    assert not np.array_equal(changed[0], base[0]) and np.array_equal(changed[1], base[1])


@needs_chgnet
def test_damaged_shard_is_reported_and_recomputed(structures, count_computed, tmp_path):
    items, ids = structures
    base = hp.chgnet_embeddings(items[:3], ids[:3], progress=False)
    [shard] = list((tmp_path / "cache" / "pretrained").glob("chgnet-*/*.npz"))
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.warns(UserWarning, match="computed again"):
        again = hp.chgnet_embeddings(items[:3], ids[:3], progress=False)
    assert np.array_equal(again, base) and count_computed == [3, 3]


def test_a_shard_held_by_another_process_is_left_to_it(tmp_path):
    from filelock import FileLock

    from hybridlib.cache import fingerprint

    keys = ["a", "b"]
    path = tmp_path / f"{fingerprint(keys, length=20)}.npz"
    calls = []
    with FileLock(str(path) + ".lock"):
        assert not hp._fill_shard(tmp_path, keys, calls.append, {}, wait=False)
    assert calls == [] and not path.exists()


@needs_chgnet
def test_model_key_depends_on_the_checkpoint():
    assert hp.model_fingerprint("0.3.0") == hp.model_fingerprint("0.3.0")
    assert hp.model_fingerprint("0.3.0") != hp.model_fingerprint("0.2.0")


@needs_chgnet
def test_a_structure_chgnet_cannot_read_is_named():
    lonely = Structure(Lattice.cubic(30.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="mp-lonely"):
            hp.chgnet_embeddings([lonely], ["mp-lonely"], progress=False, cache=False)


@needs_chgnet
def test_model_card_of_the_bundled_weights_names_its_data():
    card = hp.model_card()
    assert "MPtrj" in card and "Dataset Used" in card
