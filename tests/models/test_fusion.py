"""Tests of fusion models, late fusion and stacking, the RF baseline and the fusion experiments."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.dummy import DummyRegressor
from torch_geometric.data import Batch, Data

import hybridlib as hl
from hybridlib.experiments import fusion as fx
from hybridlib.models import (CGCNN, AttentionFusion, EarlyFusion, ResidualFusion, Stacking,
                              blend, blend_alpha, composition_stats, out_of_fold_predict,
                              random_forest)


@pytest.fixture(scope="module")
def graphs(mp_small):
    rows = mp_small.iloc[:8]
    comp = hl.features.featurize_frame(rows, "magpie", impute_nan=False)
    return hl.graphs.graph_dataset(rows, targets=["e_form"], comp=comp, cache=False)


def _gnn() -> CGCNN:
    return CGCNN(hidden=16, n_conv=1, fc_hidden=16)


def test_composition_stats_are_nan_aware(graphs):
    mean, std = composition_stats(graphs)
    comp = np.concatenate([g.comp.numpy() for g in graphs]).astype(float)
    np.testing.assert_allclose(mean.numpy(), np.nan_to_num(np.nanmean(comp, axis=0)), rtol=1e-5,
                               atol=1e-5)
    assert (std > 0).all() and mean.shape == (132,)
    with pytest.raises(ValueError, match="comp"):
        composition_stats([Data(num_nodes=1)])


@pytest.mark.parametrize("cls", [EarlyFusion, AttentionFusion])
def test_fusion_shapes_and_mean_imputation(graphs, cls):
    torch.manual_seed(0)
    model = cls(_gnn(), *composition_stats(graphs), n_targets=2).eval()
    batch = Batch.from_data_list(graphs)
    assert model(batch).shape == (len(graphs), 2)
    assert torch.equal(model.composition.mean, composition_stats(graphs)[0])
    imputed = batch.clone()
    imputed.comp = batch.comp.clone()
    imputed.comp[0, 5] = float("nan")
    at_mean = batch.clone()
    at_mean.comp = batch.comp.clone()
    at_mean.comp[0, 5] = model.composition.mean[5]
    with torch.no_grad():
        torch.testing.assert_close(model(imputed), model(at_mean))
    with pytest.raises(ValueError, match="expects"):
        bad = batch.clone()
        bad.comp = batch.comp[:, :10]
        model(bad)


@pytest.mark.parametrize("cls", [EarlyFusion, AttentionFusion, ResidualFusion])
def test_fusion_keeps_the_weights_of_a_trained_gnn(graphs, cls):
    """Wrapping (and re-initialising) a fusion model must not erase an injected GNN."""
    gnn = _gnn()
    batch = Batch.from_data_list(graphs)
    optimizer = torch.optim.Adam(gnn.parameters(), lr=1e-2)
    for _ in range(3):  # a trained GNN: weights no initialiser would produce
        optimizer.zero_grad()
        gnn(batch).abs().mean().backward()
        optimizer.step()
    trained = {k: v.clone() for k, v in gnn.state_dict().items()}
    model = cls(gnn, *composition_stats(graphs))
    model.reset_parameters()
    for key, value in model.gnn.state_dict().items():
        assert torch.equal(value, trained[key]), key


def test_early_fusion_ablation_switches(graphs):
    torch.manual_seed(0)
    batch = Batch.from_data_list(graphs)
    control = EarlyFusion(_gnn(), *composition_stats(graphs), use_composition=False).eval()
    with torch.no_grad():
        fused = control.embed(batch)
        assert torch.count_nonzero(fused[:, :132]) == 0
        changed = batch.clone()
        changed.comp = batch.comp.flip(0)
        torch.testing.assert_close(control(changed), control(batch))
    plain = EarlyFusion(_gnn(), *composition_stats(graphs), dropout=0.0)
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    normed = EarlyFusion(_gnn(), *composition_stats(graphs), branch_norm=True).train()
    graph_half = normed.embed(batch)[:, 132:]
    torch.testing.assert_close(graph_half.mean(0), torch.zeros(16), atol=1e-5, rtol=0)
    assert "branch_norm=True" in str(normed) and "use_composition=False" in str(control)


def test_residual_fusion_starts_as_the_gnn_and_learns_a_correction(graphs):
    torch.manual_seed(0)
    gnn = _gnn().eval()
    model = ResidualFusion(gnn, *composition_stats(graphs)).eval()
    batch = Batch.from_data_list(graphs)
    with torch.no_grad():
        torch.testing.assert_close(model(batch), gnn(batch))
    model.train()
    optimizer = torch.optim.Adam(model.correction.parameters(), lr=1e-2)
    optimizer.zero_grad()
    (model(batch) - 1.0).abs().mean().backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        assert not torch.allclose(model(batch), gnn(batch))


def test_attention_weights_are_a_softmax_over_sources(graphs):
    torch.manual_seed(0)
    model = AttentionFusion(_gnn(), *composition_stats(graphs), width=8).eval()
    batch = Batch.from_data_list(graphs)
    with torch.no_grad():
        weights = model.source_weights(batch)
        p_comp, p_graph, _ = model._sources(batch)
        mixed = model.embed(batch)
    assert weights.shape == (len(graphs), 2)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(len(graphs)))
    assert (weights > 0).all()
    torch.testing.assert_close(mixed, weights[:, :1] * p_comp + weights[:, 1:] * p_graph)


def test_blend_alpha_recovers_a_known_optimum():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    d = rng.normal(size=200)
    pred_a, pred_b = y + d, y - d / 3.0  # 0.25 * a + 0.75 * b == y exactly
    alpha, curve = blend_alpha(pred_a, pred_b, y)
    assert alpha == pytest.approx(0.25)
    assert curve.shape == (101,) and curve[25] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(curve[:26]) < 0) and np.all(np.diff(curve[25:]) > 0)
    y_missing = y.copy()
    y_missing[:50] = np.nan
    assert blend_alpha(pred_a, pred_b, y_missing)[0] == pytest.approx(0.25)
    np.testing.assert_allclose(blend(pred_a, pred_b, 0.25), y)
    with pytest.raises(ValueError, match="alphas"):
        blend_alpha(pred_a, pred_b, y, alphas=[0.5, 1.5])


def test_stacking_recovers_linear_combination():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(300, 2))
    y = 0.3 * p[:, 0] + 0.7 * p[:, 1] + 0.1
    stacker = Stacking(penalties=[1e-6]).fit(p, y)
    np.testing.assert_allclose(stacker.coef_, [0.3, 0.7], atol=1e-4)
    assert stacker.intercept_ == pytest.approx(0.1, abs=1e-4)
    with pytest.raises(RuntimeError, match="before fit"):
        Stacking().predict(p)


def _late_table(seed: int = 0) -> pd.DataFrame:
    """RF memorises train (exact), is noisy on val/test; the GNN is equally good everywhere."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in (("train", 200), ("val", 100), ("test", 100)):
        y = rng.normal(size=n)
        rf = y if split == "train" else y + rng.normal(scale=0.5, size=n)
        rows.append(pd.DataFrame({"material_id": [f"{split}-{i}" for i in range(n)],
                                  "split": split, "y": y, "rf": rf,
                                  "gnn": y + rng.normal(scale=0.3, size=n)}))
    return pd.concat(rows, ignore_index=True)


def test_alpha_on_training_rows_is_the_leak_the_chapter_shows():
    table = _late_table()
    alpha_train = fx.choose_alpha(table, "train")[0]
    alpha_val = fx.choose_alpha(table, "val")[0]
    assert alpha_train == 1.0
    assert alpha_val < 0.5
    test = fx.blend_table(table, alpha_val).query("split == 'test'")
    test_leak = fx.blend_table(table, alpha_train).query("split == 'test'")
    assert (np.abs(test.e_form_pred - test.e_form).mean()
            < np.abs(test_leak.e_form_pred - test_leak.e_form).mean())


@pytest.mark.parametrize("damage", ["nan", "shuffle"])
def test_stacking_and_alpha_never_see_test_targets(damage):
    table = _late_table()
    damaged = table.copy()
    test = damaged["split"] == "test"
    damaged.loc[test, "y"] = (np.nan if damage == "nan"
                              else np.random.default_rng(9).permutation(table.loc[test, "y"]))
    frame, details = fx.stack_table(table)
    frame_damaged, details_damaged = fx.stack_table(damaged)
    np.testing.assert_array_equal(frame["e_form_pred"], frame_damaged["e_form_pred"])
    assert details == details_damaged
    assert fx.choose_alpha(table, "val")[0] == fx.choose_alpha(damaged, "val")[0]


def test_out_of_fold_predictions_never_use_their_own_row():
    y = np.zeros(20)
    y[0] = 100.0
    oof = out_of_fold_predict(DummyRegressor(), np.zeros((20, 1)), y, n_splits=5)
    assert oof[0] == 0.0
    assert oof.max() == pytest.approx(100.0 / 16)
    with pytest.raises(ValueError, match="n_splits"):
        out_of_fold_predict(DummyRegressor(), np.zeros((3, 1)), np.zeros(3), n_splits=5)


def test_random_forest_pipeline_imputes_and_is_seeded():
    profile = hl.config.get_profile("ci")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = X[:, 0] * 2
    X[::7, 1] = np.nan  # e.g. noble-gas electronegativity statistics
    first = random_forest(profile, n_estimators=10).fit(X, y)
    second = random_forest(profile, n_estimators=10).fit(X, y)
    forest = first.named_steps["forest"]
    assert (forest.max_depth, forest.random_state) == (profile.model.rf_depth,
                                                       profile.training.seed)
    assert random_forest(profile).named_steps["forest"].n_estimators == profile.model.rf_trees
    first.set_params(forest__n_jobs=1)  # threads sum the trees in varying order
    second.set_params(forest__n_jobs=1)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    # the forest learned y = 2 x0 through the imputed NaNs
    assert np.abs(first.predict(X) - y).mean() < 0.3 * np.abs(y - y.mean()).mean()
    np.testing.assert_allclose(first.named_steps["impute"].statistics_[1], np.nanmean(X[:, 1]))


# ------------------------------------------------------------------ experiments end to end

@pytest.fixture(scope="module", autouse=True)
def _sample_loaded_once(mp_sample):
    """Experiments reload the data set; serve the session's copy instead of parsing again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hl.data, "load_mp_sample", lambda *args, **kwargs: mp_sample)
        yield


@pytest.fixture(scope="module")
def tiny():
    return hl.config.get_profile("ci").with_(
        data={"n_materials": 120}, training={"steps": 4, "batch_size": 32},
        model={"hidden": 8, "n_conv": 1, "rf_trees": 5})


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return hl.results.Registry(tmp_path_factory.mktemp("runs"))


def _table(profile, tmp_path):
    return hl.experiments.RunContext("cgcnn", profile, hl.results.Registry(tmp_path),
                                     tmp_path / "checkpoints").table()


def test_learning_curve_subsets_are_nested_and_keep_val_and_test(tiny, tmp_path):
    full = _table(tiny, tmp_path)
    small = _table(tiny.with_(data={"train_size": 20}), tmp_path)
    larger = _table(tiny.with_(data={"train_size": 40}), tmp_path)
    ids = [set(f.query("split == 'train'").material_id) for f in (small, larger, full)]
    assert len(ids[0]) == 20 and len(ids[1]) == 40 and ids[0] < ids[1] < ids[2]
    for split in ("val", "test"):
        assert set(small.query("split == @split").material_id) == set(
            full.query("split == @split").material_id)
    with pytest.raises(ValueError, match="exceeds"):
        _table(tiny.with_(data={"train_size": 10_000}), tmp_path)


def test_fusion_experiments_end_to_end(tiny, registry):
    rf = hl.experiments.run("rf_magpie", tiny, registry=registry)
    assert set(rf.metrics) == {"e_form", "band_gap"}
    assert set(rf.predictions["split"]) == {"train", "val", "test"}
    gnn = hl.experiments.run("cgcnn", tiny, registry=registry)
    assert gnn.extra["epochs_run"] == 2 and gnn.train_seconds > 0
    assert gnn.extra["steps_run"] >= tiny.training.steps  # whole epochs, never fewer steps
    history = gnn.extra["history"]
    assert [row["epoch"] for row in history] == [1, 2] and 1 <= gnn.extra["best_epoch"] <= 2
    assert len(history[0]["bn_input_std"]) == 1  # one convolution, one batch norm
    late = hl.experiments.run("late_fusion_val", tiny, registry=registry)
    y, pred = late.arrays("e_form")
    rf_y, rf_pred = rf.arrays("e_form")
    gnn_pred = gnn.arrays("e_form")[1]
    alpha = late.extra["alpha"]
    np.testing.assert_allclose(pred, alpha * rf_pred + (1 - alpha) * gnn_pred, rtol=1e-6)
    np.testing.assert_allclose(y, rf_y)
    assert late.extra["mae_curve"][round(alpha * 100)] == min(late.extra["mae_curve"])
    leak = hl.experiments.run("late_fusion_train", tiny, registry=registry)
    assert leak.extra["rf_train_mae_in_sample"] < leak.extra["rf_train_mae_out_of_fold"]
    stacked = hl.experiments.run("stacking", tiny, registry=registry)
    test = stacked.predictions[stacked.predictions["split"] == "test"].set_index("material_id")
    rf_test = rf.predictions[rf.predictions["split"] == "test"].set_index("material_id")
    gnn_test = gnn.predictions[gnn.predictions["split"] == "test"].set_index("material_id")
    np.testing.assert_allclose(test["e_form_rf"], rf_test.loc[test.index, "e_form_pred"])
    np.testing.assert_allclose(test["e_form_gnn"], gnn_test.loc[test.index, "e_form_pred"])
    (w_rf, w_gnn), intercept = stacked.extra["coef"], stacked.extra["intercept"]
    np.testing.assert_allclose(test["e_form_pred"], intercept + w_rf * test["e_form_rf"]
                               + w_gnn * test["e_form_gnn"], rtol=1e-6)
    attention = hl.experiments.run("attention_fusion", tiny, registry=registry)
    weights = attention.predictions[["w_composition", "w_structure"]].to_numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    early = hl.experiments.run("early_fusion", tiny, registry=registry)
    # every model is compared on the same materials, split alike
    for other in (gnn, late, stacked, attention, early):
        for split in ("val", "test"):
            assert set(other.predictions.query("split == @split")["material_id"]) == set(
                rf.predictions.query("split == @split")["material_id"]), (other.name, split)
    for name in ("early_fusion", "early_fusion_no_comp", "early_fusion_no_dropout",
                 "early_fusion_branch_norm", "residual_fusion"):
        variant = hl.experiments.run(name, tiny, registry=registry)
        assert np.isfinite(variant.metrics["e_form"]["mae"]), name
        assert variant.extra["epochs_run"] == 2
