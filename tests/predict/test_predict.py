"""hl.predict on a tiny trained registry: round trip, keys, ensembles, out-of-domain flags."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import hybridlib as hl
from hybridlib.experiments import experiment_key, run
from hybridlib.predict import COLUMNS, InputError, MissingRunError, Predictor

from .conftest import MODELS


def _split(dataset, split):
    return dataset[dataset["split"] == split].reset_index(drop=True)


def test_stored_weights_reproduce_the_stored_test_predictions_exactly(tiny):
    profile, registry, dataset = tiny
    test = _split(dataset, "test")
    table = Predictor(MODELS, profile, registry=registry, seeds=()).predict(list(test["structure"]))
    assert list(table.columns) == COLUMNS
    for name in MODELS:
        stored = run(name, profile, registry=registry)
        rows = stored.predictions[stored.predictions["split"] == "test"]
        assert list(rows["material_id"]) == list(test["material_id"])
        for target in stored.targets:
            mine = table[(table["model"] == name) & (table["target"] == target)]
            assert len(mine) == len(test)
            # identical, not merely close: same graphs, same batches, same arithmetic
            assert np.array_equal(mine["prediction"].to_numpy(),
                                  rows[f"{target}_pred"].to_numpy()), (name, target)


def test_one_structure_alone_agrees_with_the_batch_to_float32_precision(tiny):
    profile, registry, dataset = tiny
    test = _split(dataset, "test")
    predictor = Predictor(["cgcnn", "alignn"], profile, registry=registry, seeds=())
    batch = predictor.predict(list(test["structure"][:8]))
    alone = predictor.predict(test["structure"][3])
    for name in ("cgcnn", "alignn"):
        expected = batch[batch["model"] == name]["prediction"].to_numpy()[3]
        got = alone[alone["model"] == name]["prediction"].item()
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_a_changed_recipe_finds_no_weights_and_says_how_to_train(tiny):
    profile, registry, _ = tiny
    changed = profile.with_(training={"steps": 6})
    assert experiment_key("cgcnn", changed) != experiment_key("cgcnn", profile)
    with pytest.raises(MissingRunError) as error:
        Predictor(["rf_magpie", "cgcnn"], changed, registry=registry)
    message = str(error.value)
    assert "cgcnn: no run" in message and "rf_magpie: no run" in message
    assert "prediction never trains" in message
    assert "hl.experiments.run(name, profile)" in message  # a custom profile has no CLI name


def test_weights_copied_under_another_key_are_refused(tiny, tmp_path):
    profile, registry, _ = tiny
    copy = tmp_path / "runs"
    shutil.copytree(registry, copy)
    changed = profile.with_(training={"steps": 6})
    old, new = experiment_key("cgcnn", profile), experiment_key("cgcnn", changed)
    for path in (copy / "cgcnn" / f"{old}.npz", copy / "cgcnn" / "weights" / f"{old}.npz"):
        shutil.copy(path, path.with_name(path.name.replace(old, new)))
    with pytest.raises(MissingRunError, match=f"belongs to run 'cgcnn' with key {old}"):
        Predictor(["cgcnn"], changed, registry=copy)


def test_a_run_without_weights_is_named_with_the_way_out(tiny, tmp_path):
    profile, registry, _ = tiny
    copy = tmp_path / "runs"
    shutil.copytree(registry, copy)
    shutil.rmtree(copy / "stacking" / "weights")
    with pytest.raises(MissingRunError, match="stacking: its run .* holds no trained weights"):
        Predictor(["stacking"], profile, registry=copy)


def test_unknown_model_names_are_listed(tiny):
    profile, registry, _ = tiny
    with pytest.raises(KeyError, match="unknown models \\['cgcnnn'\\]"):
        Predictor(["cgcnnn"], profile, registry=registry)


def test_uncertainty_is_the_seed_spread_or_the_components_spread(tiny):
    profile, registry, dataset = tiny
    structure = _split(dataset, "test")["structure"][0]
    table = Predictor(["cgcnn", "late_fusion_val", "rf_magpie"], profile, registry=registry,
                      seeds=(0, 1, 2)).predict(structure).set_index(["model", "target"])
    seed_runs = [Predictor(["cgcnn"], profile.with_(seed=k), registry=registry, seeds=())
                 .predict(structure)["prediction"].item() for k in (0, 1)]
    cgcnn = table.loc[("cgcnn", "e_form")]
    assert cgcnn["n_seeds"] == 2  # seed 2 is not stored: left out, not an error
    assert cgcnn["prediction"] == seed_runs[0]
    assert cgcnn["uncertainty"] == pytest.approx(np.std(seed_runs, ddof=1))
    assert cgcnn["uncertainty_kind"] == "std over 2 seeds"
    late = table.loc[("late_fusion_val", "e_form")]
    rf = table.loc[("rf_magpie", "e_form"), "prediction"]
    assert late["uncertainty"] == pytest.approx(abs(rf - seed_runs[0]))
    assert late["uncertainty_kind"] == "spread of rf_magpie and cgcnn"
    alpha = run("late_fusion_val", profile, registry=registry).extra["alpha"]
    assert late["prediction"] == pytest.approx(alpha * rf + (1 - alpha) * seed_runs[0])
    assert np.isnan(table.loc[("rf_magpie", "band_gap"), "uncertainty"])


def _domain(tiny):
    profile, registry, dataset = tiny
    train = _split(dataset, "train")
    predictor = Predictor(["rf_magpie", "cgcnn"], profile, registry=registry, seeds=())
    return predictor, train


def test_a_training_formula_is_flagged_with_its_dft_ground_state(tiny):
    predictor, train = _domain(tiny)
    counts = train["formula"].value_counts()
    formula = counts.index[0]
    polymorphs = train[train["formula"] == formula]
    ground = polymorphs.loc[polymorphs["e_form"].idxmin()]
    table = predictor.predict(polymorphs["structure"].iloc[-1])
    assert table["in_training_data"].all()
    assert set(table["dft_id"]) == {ground["material_id"]}
    for target in ("e_form", "band_gap"):
        rows = table[table["target"] == target]
        assert (rows["dft_value"] == ground[target]).all()
    assert f"{counts.iloc[0]} polymorph(s)" in table["note"].iloc[0]


def test_unseen_elements_and_oversized_cells_are_flagged(tiny):
    from pymatgen.core import Element

    predictor, train = _domain(tiny)
    seen = {el.symbol for s in train["structure"] for el in s.composition.elements}
    absent = next(el.symbol for el in Element if el.Z < 84 and el.symbol not in seen
                  and not el.is_noble_gas)
    structure = train["structure"][0].copy()
    replaced = structure.composition.elements[0].symbol
    structure.replace_species({replaced: absent})
    big = train.loc[train["n_sites"].idxmax(), "structure"] * (2, 1, 1)
    table = predictor.predict({"swapped": structure, "big": big, "plain": train["structure"][1]})
    swapped, oversized, plain = (table[table["input"] == k] for k in ("swapped", "big", "plain"))
    assert (swapped["unseen_elements"] == absent).all()
    assert f"elements absent from its training split: {absent}" in swapped["note"].iloc[0]
    assert oversized["too_many_sites"].all() and not swapped["too_many_sites"].any()
    assert f"{len(big)} sites, more than any training cell" in oversized["note"].iloc[0]
    assert (plain["unseen_elements"] == "").all() and not plain["too_many_sites"].any()
    assert np.isfinite(table["prediction"]).all()


def test_a_formula_gets_the_composition_models_only(tiny):
    predictor, train = _domain(tiny)
    table = predictor.predict("NaCl")
    assert set(table["model"]) == {"rf_magpie"}
    assert set(table["target"]) == {"e_form", "band_gap"}
    assert not table["too_many_sites"].any()
    graph_only = Predictor(["cgcnn"], tiny[0], registry=tiny[1], seeds=())
    with pytest.raises(InputError, match="NaCl: a formula has no structure"):
        graph_only.predict("NaCl")


def test_a_model_that_cannot_take_an_element_leaves_a_note_not_a_crash(tiny):
    from pymatgen.core import Lattice, Structure

    profile, registry, _ = tiny
    heavy = Structure(Lattice.cubic(3.5), ["Cm", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # Z = 96
    table = Predictor(["megnet_mt_uncertainty", "rf_magpie"], profile, registry=registry,
                      seeds=()).predict(heavy)
    megnet = table[table["model"] == "megnet_mt_uncertainty"]
    assert megnet["prediction"].isna().all()
    assert megnet["note"].str.contains("not predicted: atomic numbers must lie in 1..94").all()
    assert table[table["model"] == "rf_magpie"]["prediction"].notna().all()


def test_hl_predict_is_the_function_and_the_module(tiny):
    profile, registry, dataset = tiny
    structure = _split(dataset, "val")["structure"][0]
    table = hl.predict(structure, ["rf_magpie"], profile, registry=registry)
    same = hl.predict.predict(structure, ["rf_magpie"], profile, registry=registry)
    assert table.equals(same)
    assert hl.predict.Predictor is Predictor
