"""hybridlib.experiments.pretrained: frozen-embedding fusions, perovskites, shift, statistics."""
from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
import torch

import hybridlib as hl
from hybridlib.experiments import pretrained as xp
from hybridlib.experiments import run

needs_chgnet = pytest.mark.skipif(importlib.util.find_spec("chgnet") is None,
                                  reason="the optional package chgnet is not installed")


@pytest.fixture(scope="module")
def shared_features(tmp_path_factory):
    """One feature/embedding cache for the whole module (registries stay per test)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def perovskites():
    from hybridlib.data.perovskites import load_perovskites

    return load_perovskites()


@pytest.fixture()
def tiny(shared_features, monkeypatch):
    monkeypatch.setenv("HYBRIDLIB_CACHE_DIR", str(shared_features))
    return hl.config.get_profile("ci").with_(
        name="tiny", data={"n_materials": 120}, model={"rf_trees": 10},
        training={"steps": 4})


# ------------------------------------------------------------------ statistics

def test_paired_bootstrap_of_identical_and_of_perfect_predictions():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    noisy = y + rng.normal(scale=0.3, size=200)
    same = xp.paired_bootstrap(y, noisy, noisy)
    assert same["diff"] == same["diff_low"] == same["diff_high"] == 0.0
    perfect = xp.paired_bootstrap(y, noisy, y)
    assert perfect["mae_b"] == 0.0 and perfect["gain"] == 1.0
    assert perfect["diff"] == pytest.approx(np.abs(noisy - y).mean())
    assert perfect["diff_low"] < perfect["diff"] < perfect["diff_high"]
    assert perfect["n"] == 200


def test_paired_bootstrap_is_seeded_and_narrows_with_more_rows():
    rng = np.random.default_rng(1)
    y = rng.normal(size=4000)
    a, b = y + rng.normal(scale=0.5, size=4000), y + rng.normal(scale=0.4, size=4000)
    first, again = xp.paired_bootstrap(y, a, b, seed=3), xp.paired_bootstrap(y, a, b, seed=3)
    assert first == again
    small = xp.paired_bootstrap(y[:200], a[:200], b[:200], seed=3)
    assert first["diff_high"] - first["diff_low"] < small["diff_high"] - small["diff_low"]
    assert first["diff_low"] > 0  # b really is better with 4000 rows
    with pytest.raises(ValueError, match="unequal lengths"):
        xp.paired_bootstrap(y, a[:-1], b)


def test_group_offsets_are_medians_with_a_fallback():
    offsets = xp.group_offsets([1.0, 2.0, 9.0, -1.0], ["O3", "O3", "O3", "N3"])
    assert offsets == {"O3": 2.0, "N3": -1.0, "*": 1.5}


def test_anion_groups_of_the_perovskites(perovskites):
    groups = {xp.anion_group(s) for s in perovskites["structure"]}
    assert groups == {"N3", "N2O1", "F1N1O1", "O3", "O2S1", "N1O2", "F1O2"}


# ------------------------------------------------------------------ frozen early fusion

def test_frozen_embedding_branch_standardizes_and_has_no_weights():
    from torch_geometric.data import Batch, Data

    from hybridlib.models.fusion import EarlyFusion

    emb = torch.tensor([[1.0, 10.0], [3.0, 10.0]])
    data = [Data(comp=torch.ones(1, 3), pretrained=emb[i:i + 1], y=torch.zeros(1, 1),
                 num_nodes=1) for i in range(2)]
    branch = xp.FrozenEmbedding.from_data(data)
    assert list(branch.parameters()) == [] and branch.embedding_dim == 2
    out = branch.embed(Batch.from_data_list(data))
    assert torch.allclose(out, torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))  # constant column -> 0
    model = EarlyFusion(branch, torch.zeros(3), torch.ones(3))
    assert model(Batch.from_data_list(data)).shape == (2, 1)
    assert "FrozenEmbedding(2)" in repr(model)
    with pytest.raises(ValueError, match="expected"):
        branch.embed(Data(pretrained=torch.ones(1, 5)))


# ------------------------------------------------------------------ runs

def test_perovskite_frame_follows_the_profile(tiny):
    assert xp.perovskite_size("ci") == 600 and xp.perovskite_size("book") is None
    frame = xp.perovskite_frame(tiny)
    assert len(frame.table) == 120 and frame.targets == ("heat_all",)
    assert set(frame.table["split"]) == {"train", "val", "test"}
    again = xp.perovskite_frame(tiny)
    assert again.table["material_id"].tolist() == frame.table["material_id"].tolist()


@needs_chgnet
def test_fused_forest_runs_on_the_books_split(tiny, tmp_path):
    fused = run("rf_magpie_chgnet", tiny, registry=tmp_path)
    base = run("rf_magpie", tiny, registry=tmp_path)
    assert fused.extra["n_features"] == 132 + 64
    assert set(fused.metrics) == {"e_form", "band_gap"}
    for split in ("val", "test"):
        ids = [r.predictions.loc[r.predictions["split"] == split, "material_id"].tolist()
               for r in (fused, base)]
        assert ids[0] == ids[1]
    again = run("rf_magpie_chgnet", tiny, registry=tmp_path / "other")
    assert again.metrics == fused.metrics  # deterministic


@needs_chgnet
def test_frozen_mlp_and_three_input_stacking(tiny, tmp_path):
    mlp = run("mlp_magpie_chgnet", tiny, registry=tmp_path)
    assert np.isfinite(mlp.predictions["e_form_pred"]).all() and mlp.extra["epochs_run"] == 2
    stack = run("stacking_chgnet", tiny, registry=tmp_path)
    assert stack.extra["inputs"] == ["rf", "gnn", "emb"] and len(stack.extra["coef"]) == 3
    assert {"e_form_rf", "e_form_gnn", "e_form_emb"} <= set(stack.predictions.columns)


@needs_chgnet
def test_perovskite_runs_share_rows_and_compare_with_intervals(tiny, tmp_path):
    base = run("perov_rf_magpie", tiny, registry=tmp_path)
    fused = run("perov_rf_magpie_chgnet", tiny, registry=tmp_path)
    assert list(base.metrics) == ["heat_all"] == list(fused.metrics)
    table = xp.comparison_table([("perov_rf_magpie", "perov_rf_magpie_chgnet")], "heat_all",
                                tiny, registry=tmp_path)
    row = table.iloc[0]
    assert row["n"] == base.metrics["heat_all"]["n"]
    assert row["mae_a"] == pytest.approx(base.metrics["heat_all"]["mae"])
    assert row["diff"] == pytest.approx(row["mae_a"] - fused.metrics["heat_all"]["mae"])
    assert row["diff_low"] <= row["diff"] <= row["diff_high"]


@needs_chgnet
def test_shift_alignment_never_reads_test_targets(tiny, tmp_path, monkeypatch):
    honest = run("shift_rf_magpie", tiny, registry=tmp_path / "a")
    frame = xp.perovskite_frame(tiny)
    table = frame.table.copy()
    table.loc[table["split"] != "train", "heat_all"] += 100.0
    monkeypatch.setattr(xp, "perovskite_frame", lambda profile: hl.experiments.Frame(
        table, frame.targets))
    probed = run("shift_rf_magpie", tiny, registry=tmp_path / "b")
    pred = lambda r: r.predictions.query("split == 'test'")["heat_all_pred"].to_numpy()
    np.testing.assert_array_equal(pred(honest), pred(probed))
    assert set(honest.extra["nn_distance_median"]) == {"mp_test", "perovskite_test"}
    assert set(honest.extra["offsets"]) >= {"*"}


def test_structure_overlap_tells_a_formula_twin_from_the_same_crystal(perovskites):
    table = perovskites
    twins = table[table["formula"] == table["formula"].iat[0]]
    assert len(twins) == 2
    matches = xp.structure_overlap(twins.iloc[:1], twins)
    assert len(matches) == 2
    same = matches.set_index("reference_id")["same_structure"]
    assert bool(same[twins["material_id"].iat[0]]) and not bool(same[twins["material_id"].iat[1]])
    none = xp.structure_overlap(twins.iloc[:1], table[table["formula"] != twins["formula"].iat[0]])
    assert none.empty and list(none.columns) == ["query_id", "reference_id", "formula",
                                                  "same_structure"]
