"""Bootstrap intervals, seed summaries and unseen formulas (hybridlib.report.stats)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridlib as hl
from hybridlib.report import stats


def test_paired_difference_matches_the_hand_computed_bootstrap():
    # Errors of a: 1, 1, 1, 2; of b: 1, 1, 1, 1 -> per-row differences d = 0, 0, 0, 1.
    # A resample of the 4 rows has mean k/4 with k ~ Binomial(4, 1/4) (how often the last
    # row is drawn): P(k=0) = 0.316, P(k<=1) = 0.738, P(k<=2) = 0.949, P(k<=3) = 0.996.
    # So the 2.5 % point is 0 and the 97.5 % point is 3/4; the estimate is the plain mean
    # 1/4, and the bootstrap standard error is sqrt(p (1 - p) / 4) with p = 1/4.
    y = np.zeros(4)
    a, b = np.array([1.0, 1.0, 1.0, 2.0]), np.ones(4)
    diff = stats.mae_difference(y, a, b, n_boot=20000, seed=3)
    assert diff.estimate == pytest.approx(0.25)
    assert (diff.low, diff.high) == (0.0, 0.75)
    assert diff.n == 4 and diff.level == 0.95 and not diff.excludes_zero
    means = stats.bootstrap_means(a - b, n_boot=20000, seed=3)
    assert means.mean() == pytest.approx(0.25, abs=0.005)
    assert means.std() == pytest.approx(np.sqrt(0.25 * 0.75 / 4), abs=0.005)
    assert set(np.unique(means)) <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_pairing_removes_the_spread_shared_by_both_models():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    pred_a = y + rng.uniform(0.1, 2.0, size=300)  # large, varied errors, all positive
    pred_b = pred_a + 0.01  # b is worse by exactly 0.01 on every material
    single_a, single_b = stats.mae_interval(y, pred_a), stats.mae_interval(y, pred_b)
    assert single_a.high > single_b.low  # the two MAE intervals overlap widely ...
    diff = stats.mae_difference(y, pred_a, pred_b)
    assert diff.estimate == pytest.approx(-0.01)  # ... but the paired difference is sure
    assert diff.low == pytest.approx(-0.01) and diff.high == pytest.approx(-0.01)
    assert diff.excludes_zero


def test_difference_is_antisymmetric_and_reproducible():
    rng = np.random.default_rng(1)
    y, a, b = rng.normal(size=(3, 50))
    ab, ba = stats.mae_difference(y, a, b, seed=7), stats.mae_difference(y, b, a, seed=7)
    assert ab.estimate == pytest.approx(-ba.estimate)
    assert (ab.low, ab.high) == pytest.approx((-ba.high, -ba.low))
    assert stats.mae_difference(y, a, b, seed=7) == ab
    assert stats.mae_difference(y, a, b, seed=8) != ab
    assert ab.low <= ab.estimate <= ab.high


def test_mae_interval_of_constant_errors_is_a_point():
    interval = stats.mae_interval([0.0, 1.0, 2.0], [0.5, 1.5, 1.5])
    assert (interval.estimate, interval.low, interval.high) == (0.5, 0.5, 0.5)
    assert str(interval) == "0.5000 [0.5000, 0.5000]"


def test_bootstrap_resamples_columns_together():
    values = np.c_[np.arange(10.0), np.arange(10.0) + 1]
    means = stats.bootstrap_means(values, n_boot=50)
    assert means.shape == (50, 2)
    np.testing.assert_allclose(means[:, 1] - means[:, 0], 1.0)


@pytest.mark.parametrize("values, message", [
    (np.array([]), "non-empty"), (np.array([1.0, np.nan]), "NaN"),
    (np.zeros((2, 2, 2)), "non-empty")])
def test_bootstrap_rejects_bad_input(values, message):
    with pytest.raises(ValueError, match=message):
        stats.bootstrap_means(values)


def test_interval_arguments_are_checked():
    with pytest.raises(ValueError, match="shape"):
        stats.mae_difference([0.0, 1.0], [0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="level"):
        stats.mae_interval([0.0, 1.0], [0.0, 1.0], level=95)


def test_seed_summary_by_hand():
    assert stats.seed_summary([1.0, 2.0, 3.0]) == {"mean": 2.0, "sd": 1.0, "n": 3}
    one = stats.seed_summary([0.5])
    assert one["mean"] == 0.5 and np.isnan(one["sd"]) and one["n"] == 1
    with pytest.raises(ValueError, match="no values"):
        stats.seed_summary([])


def test_unseen_formulas_are_test_rows_without_a_training_twin():
    table = pd.DataFrame({
        "material_id": ["m1", "m2", "m3", "m4", "m5", "m6"],
        "formula": ["NaCl", "NaCl", "TiO2", "TiO2", "GaAs", "SiC"],
        "split": ["train", "test", "val", "test", "test", "train"]})
    # NaCl has a training twin; TiO2 only a validation twin; GaAs none.
    assert stats.unseen_formula_ids(table) == {"m4", "m5"}
    assert stats.unseen_formula_ids(table, split="val") == {"m3"}
    with pytest.raises(ValueError, match="lacks columns"):
        stats.unseen_formula_ids(table.drop(columns="formula"))
    with pytest.raises(ValueError, match="no rows"):
        stats.unseen_formula_ids(table, split="holdout")


def _run(name: str, ids: list[str], y: list[float], pred: list[float]) -> hl.results.Run:
    frame = pd.DataFrame({"material_id": ids, "split": "test", "e_form": y, "e_form_pred": pred})
    mae = float(np.abs(frame["e_form_pred"] - frame["e_form"]).mean())
    return hl.results.Run(name=name, profile=hl.config.get_profile("ci"),
                          metrics={"e_form": {"mae": mae}}, train_seconds=0.0,
                          predictions=frame)


def test_aligned_predictions_join_by_material_and_check_the_runs():
    a = _run("a", ["x", "y", "z"], [1.0, 2.0, 3.0], [1.5, 2.0, 3.0])
    b = _run("b", ["z", "x", "y"], [3.0, 1.0, 2.0], [2.0, 1.0, 2.5])
    table = stats.aligned_predictions({"a": a, "b": b})
    assert list(table.columns) == ["y", "a", "b"]
    assert table.loc["z"].tolist() == [3.0, 3.0, 2.0] and table.loc["x", "a"] == 1.5
    other_rows = _run("c", ["x", "y", "w"], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="other test materials"):
        stats.aligned_predictions({"a": a, "c": other_rows})
    other_truth = _run("d", ["x", "y", "z"], [1.0, 2.0, 4.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="other true"):
        stats.aligned_predictions({"a": a, "d": other_truth})
    a.metrics["e_form"]["mae"] = 0.01  # a hand-edited registry entry
    with pytest.raises(ValueError, match="stored test MAE"):
        stats.aligned_predictions({"a": a, "b": b})
