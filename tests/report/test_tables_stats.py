"""The statistics section of hybridlib.report.tables on toy experiments in a private registry."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridlib as hl
from hybridlib.experiments import Outcome, register

N = 60
IDS = [f"mp-{i}" for i in range(N)]
Y = np.random.default_rng(11).normal(size=N)


def _frame(errors: np.ndarray, split: str = "test") -> pd.DataFrame:
    return pd.DataFrame({"material_id": IDS, "split": split, "e_form": Y,
                         "e_form_pred": Y + errors})


def _small(ctx):
    # test error |0.1 + 0.01 seed|; the formula split doubles it
    scale = 2.0 if ctx.profile.data.split == "formula" else 1.0
    # the model seed (training.seed) changes the error; the data seed would move the split
    error = 0.1 + 0.01 * ctx.profile.training.seed
    return Outcome(_frame(np.full(N, scale * error)), 1.0)


def _large(ctx):
    return Outcome(_frame(np.full(N, 0.3)), 2.0)


def _multi(ctx):
    frame = _frame(np.full(N, 0.05))
    return Outcome(frame.assign(band_gap=Y, band_gap_pred=Y + 0.5), 3.0)


def _gap(ctx):
    return Outcome(pd.DataFrame({"material_id": IDS, "split": "test", "band_gap": Y,
                                 "band_gap_pred": Y + 0.5}), 1.0)


@pytest.fixture(autouse=True)
def _toy_experiments():
    """The toy experiments exist only while a test of this module runs."""
    register("_tables_small")(_small)
    register("_tables_large")(_large)
    register("_tables_multi")(_multi)
    register("_tables_gap")(_gap)
    yield
    for name in ("_tables_small", "_tables_large", "_tables_multi", "_tables_gap"):
        hl.experiments._EXPERIMENTS.pop(name, None)


@pytest.fixture
def profile():
    return hl.config.get_profile("ci").with_(training={"steps": 10})


def _dataset(grouped: bool) -> pd.DataFrame:
    """Toy table: test rows mp-0..29 have a training twin (formula F<i>) unless grouped."""
    test = pd.DataFrame({"material_id": IDS, "split": "test",
                         "formula": [f"F{i}" if i < 30 and not grouped else f"T{i}"
                                     for i in range(N)]})
    train = pd.DataFrame({"material_id": [f"tr-{i}" for i in range(30)], "split": "train",
                          "formula": [f"F{i}" for i in range(30)]})
    return pd.concat([train, test], ignore_index=True)


def test_ranked_table_has_intervals_ranks_and_unranked_rows(profile):
    table = hl.tables.ranked_table(["_tables_large", "_tables_small", "_tables_multi"],
                                   "e_form", profile, unranked=["_tables_multi"])
    assert table["experiment"].tolist() == ["_tables_small", "_tables_large", "_tables_multi"]
    assert table["label"].tolist() == ["1", "2", "—"]
    assert np.isnan(table.loc[2, "rank"]) and not table["tied"].any()
    small = table.iloc[0]
    assert small["mae"] == pytest.approx(0.1) and small["mae_low"] == pytest.approx(0.1)
    assert table.iloc[1]["diff_best"] == pytest.approx(0.2)
    assert table.iloc[1]["diff_best_low"] == pytest.approx(0.2)


def test_seed_table_reads_only_stored_seed_runs(profile):
    hl.experiments.run("_tables_small", profile)
    seed_two = profile.with_(training={"seed": 2})  # what the warm-up stores
    assert seed_two in hl.experiments.seed_profiles(profile)
    hl.experiments.run("_tables_small", seed_two)
    hl.experiments.run("_tables_small", profile.with_(seed=1))  # data seed: not a seed run
    table = hl.tables.seed_table(["_tables_small", "_tables_large"], "e_form", profile)
    assert list(table.index) == ["_tables_small"]  # _tables_large was never stored
    row = table.loc["_tables_small"]
    assert row["seeds"] == (0, 2) and row["n_seeds"] == 2 and row["same_test_rows"]
    assert row["mae_mean"] == pytest.approx(0.11)
    assert row["mae_sd"] == pytest.approx(np.std([0.10, 0.12], ddof=1))
    assert hl.tables.stored_run("_tables_small", profile.with_(training={"seed": 1})) is None


def test_unseen_formula_column(profile):
    table = hl.tables.unseen_formula_table(["_tables_small"], "e_form", profile,
                                           dataset=_dataset(grouped=False))
    row = table.loc["_tables_small"]
    assert (row["n_unseen"], row["n_seen"]) == (30, 30)
    assert row["mae_unseen"] == pytest.approx(0.1) and row["mae_seen"] == pytest.approx(0.1)
    assert row["mae_unseen_low"] <= row["mae_unseen"] <= row["mae_unseen_high"]


def test_grouped_split_table_needs_a_real_grouped_split(profile, monkeypatch):
    monkeypatch.setattr(hl.data, "load_dataset", lambda p=None, source=None: _dataset(False))
    assert hl.tables.formula_split_profile(profile) is None  # the data ignore the setting
    assert hl.tables.grouped_split_table(["_tables_small"], "e_form", profile).empty

    monkeypatch.setattr(hl.data, "load_dataset", lambda p=None, source=None: _dataset(True))
    grouped = hl.tables.formula_split_profile(profile)
    assert grouped.data.split == "formula"
    # a table already loaded is split again with hl.data.assign_splits, not loaded again
    monkeypatch.setattr(hl.data, "assign_splits", lambda df, p: _dataset(p.data.split == "formula"))
    assert hl.tables.formula_split_profile(profile, _dataset(False)) == grouped
    assert hl.tables.grouped_split_table(["_tables_small"], "e_form", profile).empty  # not stored
    hl.experiments.run("_tables_small", grouped)
    table = hl.tables.grouped_split_table(["_tables_small", "_tables_large"], "e_form", profile)
    assert list(table.index) == ["_tables_small"]
    assert table.loc["_tables_small", "mae_random"] == pytest.approx(0.1)
    assert table.loc["_tables_small", "mae_formula"] == pytest.approx(0.2)
    assert table.loc["_tables_small", "change_pct"] == pytest.approx(100.0)
    assert table.loc["_tables_small", ["label_random", "label_formula"]].tolist() == ["1", "1"]
    hl.experiments.run("_tables_large", grouped)
    both = hl.tables.grouped_split_table(["_tables_small", "_tables_large"], "e_form", profile)
    assert both["label_formula"].to_dict() == {"_tables_small": "1", "_tables_large": "2"}
    assert both["rank_formula"].to_dict() == {"_tables_small": 1, "_tables_large": 2}
    assert both["rank_random"].to_dict() == {"_tables_small": 1, "_tables_large": 2}
    assert hl.tables.rank_reversals(both["rank_random"], both["rank_formula"]) == []


def test_rank_reversals_count_flipped_strict_orders_not_resolved_ties():
    random = pd.Series({"a": 1, "b": 1, "c": 3, "d": 4})
    assert hl.tables.rank_reversals(random, pd.Series({"a": 1, "b": 2, "c": 3, "d": 4})) == []
    assert hl.tables.rank_reversals(random, random) == []
    merged = pd.Series({"a": 1, "b": 1, "c": 1, "d": 4})  # a tie that closes: no reversal
    assert hl.tables.rank_reversals(random, merged) == []
    flipped = pd.Series({"a": 1, "b": 1, "c": 4, "d": 3})
    assert hl.tables.rank_reversals(random, flipped) == [("c", "d")]


def test_transfer_intervals_give_a_verdict_per_task(profile):
    table = hl.tables.transfer_intervals(
        profile, ["_tables_multi"], {"e_form": "_tables_small", "band_gap": "_tables_gap"})
    by_task = table.set_index("target")
    assert by_task.loc["e_form", "verdict"] == "better"  # 0.05 < 0.10 on every material
    assert by_task.loc["e_form", "diff"] == pytest.approx(-0.05)
    assert by_task.loc["band_gap", "verdict"] == "tie"  # identical predictions
    assert by_task.loc["band_gap", "diff_low"] == by_task.loc["band_gap", "diff_high"] == 0


def test_display_columns_of_intervals_and_seeds():
    table = pd.DataFrame({"mae": [0.15, np.nan, 0.0], "mae_low": [0.13, np.nan, np.nan],
                          "mae_high": [0.17, np.nan, np.nan]}, index=["a", "b", "ref"])
    assert hl.tables.interval_column(table, "mae").tolist() == [
        "0.1500 [0.1300, 0.1700]", "", "—"]
    assert hl.tables.interval_column(table, "mae", 2, signed=True)["a"] == "+0.15 [+0.13, +0.17]"
    seeds = pd.DataFrame({"n_seeds": [3, 1], "mae_mean": [0.1, 0.2], "mae_sd": [0.01, np.nan]},
                         index=["a", "b"])
    assert hl.tables.mean_sd_column(seeds, ["a", "b", "c"]).tolist() == [
        "0.1000 ± 0.0100 (3 回)", "1 回のみ", "1 回のみ"]
