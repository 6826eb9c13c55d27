"""python -m hybridlib.experiments: what it trains in parallel and what afterwards."""
from __future__ import annotations

import hybridlib as hl
from hybridlib.experiments.warmup import LEARNING_CURVE_MODELS, plan


def test_plan_runs_composites_last_and_adds_learning_curve_points():
    profile = hl.config.get_profile("ci")
    names = ["rf_magpie", "cgcnn", "late_fusion_val", "stacking", "alignn"]
    independent, composite = plan(names, profile)
    assert [n for n, _ in composite] == ["late_fusion_val", "stacking"]
    assert {n for n, _ in independent} == {"rf_magpie", "cgcnn", "alignn"}
    sizes = sorted(p.data.train_size for n, p in independent
                   if n == "cgcnn" and p.data.train_size is not None)
    assert sizes == sorted(profile.learning_curve_sizes)
    assert all(p == profile for n, p in independent if n == "alignn")
    # graph models are scheduled before the quick forests
    assert independent[-1][0] in LEARNING_CURVE_MODELS and independent[-1][0].startswith("rf_")
