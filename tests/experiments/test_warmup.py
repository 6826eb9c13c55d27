"""python -m hybridlib.experiments: what it trains first, what afterwards, with which profiles."""
from __future__ import annotations

import hybridlib as hl
from hybridlib.experiments import grouped_split_profile, seed_profiles
from hybridlib.experiments.warmup import (COMBINED_MODELS, GROUPED_SPLIT_MODELS,
                                          LEARNING_CURVE_MODELS, SEED_MODELS, SEEDS, plan)


def test_plan_runs_combinations_last_and_adds_curves_seeds_and_grouped_split():
    profile = hl.config.get_profile("ci")
    names = ["rf_magpie", "cgcnn", "late_fusion_val", "stacking", "alignn", "megnet_e_form",
             "early_fusion_no_dropout"]
    independent, combined = plan(names, profile)
    assert {n for n, _ in combined} == set(COMBINED_MODELS)
    assert {n for n, _ in independent} == set(names) - set(COMBINED_MODELS)
    sizes = sorted(p.data.train_size for n, p in independent
                   if n == "cgcnn" and p.data.train_size is not None)
    assert sizes == sorted(profile.learning_curve_sizes)
    assert all(p == profile for n, p in independent if n == "alignn")  # one seed only
    for name in SEED_MODELS:
        seeds = sorted(p.training.seed for n, p in independent
                       if n == name and p.data.train_size is None and p.data.split == "random")
        assert seeds == [0, *SEEDS]
    grouped = {n for n, p in independent if p.data.split == "formula"}
    assert grouped == set(GROUPED_SPLIT_MODELS)
    # late fusion and stacking follow their bases everywhere: ordinary, seeds, grouped split
    assert sum(n == "late_fusion_val" for n, _ in combined) == 1 + len(SEEDS) + 1
    # longest first: ALIGNN, then MEGNet, ..., the quick forests last
    assert independent[0][0] == "alignn" and independent[1][0] == "megnet_e_form"
    assert independent[-1][0].startswith("rf_")


def test_seed_and_grouped_split_profiles_keep_the_data_and_change_one_thing():
    profile = hl.config.get_profile("ci")
    variants = seed_profiles(profile)
    assert variants[0] == profile
    assert [p.training.seed for p in variants] == [0, *SEEDS]
    assert all(p.data == profile.data and p.model == profile.model for p in variants)
    assert [p.training.seed for p in seed_profiles(profile, [0, 5])] == [0, 5]
    grouped = grouped_split_profile(profile)
    assert grouped.data.split == "formula" and grouped.training == profile.training
    keys = {hl.experiments.experiment_key("cgcnn", p) for p in [*variants, grouped]}
    assert len(keys) == len(variants) + 1
