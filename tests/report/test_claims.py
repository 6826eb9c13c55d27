"""Claims chosen from intervals, ranks with ties, and guards that fail a flipped build."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridlib as hl
from hybridlib.experiments import Outcome, experiment_key, register, run
from hybridlib.report import claims
from hybridlib.results import Registry


def _predictions() -> pd.DataFrame:
    """y = 0; |error| of a in [0.05, 0.15]; b worse than a by 0.05 everywhere; c = a +- 0.02."""
    errors = np.random.default_rng(0).uniform(0.05, 0.15, size=200)
    wobble = np.where(np.arange(200) % 2, 0.02, -0.02)
    return pd.DataFrame({"y": 0.0, "a": errors, "b": errors + 0.05, "c": errors + wobble})


def test_sentence_states_a_direction_only_when_the_interval_excludes_zero():
    table = _predictions()
    better = claims.compare(table, "a", "b", labels={"a": "RF", "b": "CGCNN"})
    assert better.winner == "a" and better.verdict == "better"
    assert better.difference.estimate == pytest.approx(-0.05)
    assert better.sentence() == ("RF は CGCNN より良い（MAE が 0.0500 eV/atom 小さく、"
                                 "95 % 区間は 0.0500〜0.0500 eV/atom）")
    worse = claims.compare(table, "b", "a", labels={"a": "RF", "b": "CGCNN"}, unit="eV")
    assert worse.winner == "a" and worse.verdict == "worse"
    assert worse.sentence().startswith("RF は CGCNN より良い（MAE が 0.0500 eV 小さく")
    tie = claims.compare(table, "a", "c")
    assert tie.winner is None and tie.verdict == "tie"
    assert tie.difference.low < 0 < tie.difference.high
    assert "このデータ量では区別できない" in tie.sentence() and "より良い" not in tie.sentence()
    with pytest.raises(KeyError, match="no predictions of 'd'"):
        claims.compare(table, "a", "d")


def test_ranking_marks_ties_and_counts_who_beats_whom():
    ranked = claims.rank_with_ties(_predictions())
    assert ranked.loc["a", "rank"] == ranked.loc["c", "rank"] == 1
    assert ranked.loc["b", "rank"] == 3  # beaten beyond doubt by a and by c
    assert ranked["label"].to_dict() == {"a": "1=", "c": "1=", "b": "3"}
    assert ranked.index[-1] == "b" and not ranked.loc["b", "tied"]
    best = ranked["mae"].idxmin()
    assert ranked.loc[best, "diff_best"] == 0
    assert ranked.loc[best, ["diff_best_low", "diff_best_high"]].isna().all()
    assert ranked.loc["b", "diff_best_low"] > 0
    with pytest.raises(ValueError, match="no prediction columns"):
        claims.rank_with_ties(pd.DataFrame({"y": [0.0]}))


def test_ranks_never_decrease_as_the_mae_grows():
    """n is beaten by nobody beyond doubt, yet m (lower MAE) is beaten by a: n shares m's
    rank instead of being ranked ahead of it."""
    errors = np.random.default_rng(0).uniform(0.05, 0.15, size=20)
    wobble = np.where(np.arange(20) % 2, 0.08, -0.08)
    table = pd.DataFrame({"y": 0.0, "a": errors, "m": errors + 0.02,
                          "n": errors + 0.03 + wobble})
    assert claims.compare(table, "m", "a").winner == "a"
    assert claims.compare(table, "n", "a").winner is None
    assert claims.compare(table, "n", "m").winner is None
    ranked = claims.rank_with_ties(table)
    assert ranked.index.tolist() == ["a", "m", "n"]  # MAE order
    assert ranked["rank"].tolist() == [1, 2, 2]
    assert ranked["label"].tolist() == ["1", "2=", "2="]
    assert ranked["mae"].is_monotonic_increasing and ranked["rank"].is_monotonic_increasing
    assert claims.top_group(ranked) == ["a"]


def test_guards_raise_claim_errors():
    claims.require(True, "always")
    with pytest.raises(claims.ClaimError, match="RF に偏る"):
        claims.require(False, "RF に偏る")
    tie = claims.compare(_predictions(), "a", "c")
    claims.require_winner(tie, None, "a と c は区別できない")
    with pytest.raises(claims.ClaimError, match="区別できない"):
        claims.require_winner(tie, "a", "a は c より良い")


# ----------------------------------------------------- a flipped registry fails the guard

def _toy_predictions(shift: float) -> pd.DataFrame:
    y = np.random.default_rng(5).normal(size=120)
    noise = np.random.default_rng(6).normal(scale=0.05, size=120)
    return pd.DataFrame({"material_id": [f"mp-{i}" for i in range(120)],
                         "split": ["val"] * 40 + ["test"] * 80,
                         "e_form": y, "e_form_pred": y + noise + shift})


def _accurate(ctx):
    return Outcome(_toy_predictions(0.0), train_seconds=1.0)


def _biased(ctx):
    return Outcome(_toy_predictions(0.2), train_seconds=0.5)


@pytest.fixture(autouse=True)
def _toy_experiments():
    """The toy experiments exist only while a test of this module runs."""
    register("_claims_accurate")(_accurate)
    register("_claims_biased")(_biased)
    yield
    for name in ("_claims_accurate", "_claims_biased"):
        hl.experiments._EXPERIMENTS.pop(name, None)


NAMES = ["_claims_accurate", "_claims_biased"]
CLAIM = "「_claims_accurate は _claims_biased より良い」"


def chapter_guard(profile) -> pd.DataFrame:
    """What a chapter's hidden cell does: table from the registry, then guard its sentence."""
    ranked = hl.tables.ranked_table(NAMES, "e_form", profile)
    comparison = claims.compare(hl.tables.test_predictions(NAMES, "e_form", profile), *NAMES)
    claims.require_winner(comparison, "_claims_accurate", CLAIM)
    claims.require(ranked.iloc[0]["experiment"] == "_claims_accurate", CLAIM)
    return ranked


def test_a_stored_metric_that_flips_the_ranking_fails_the_build():
    profile = hl.config.get_profile("ci").with_(training={"steps": 10})
    ranked = chapter_guard(profile)  # trains the two toy runs into the private registry
    assert ranked["label"].tolist() == ["1", "2"]

    registry = Registry()
    key = experiment_key("_claims_biased", profile)
    stored = registry.load("_claims_biased", key)
    test = stored.predictions["split"] == "test"
    stored.predictions.loc[test, "e_form_pred"] = stored.predictions.loc[test, "e_form"]
    stored.metrics["e_form"]["mae"] = 0.0  # now the "biased" run is perfect on the test set
    registry.save(stored)

    assert run("_claims_biased", profile).metrics["e_form"]["mae"] == 0.0  # read, not retrained
    with pytest.raises(claims.ClaimError, match="より良い"):
        chapter_guard(profile)
    flipped = hl.tables.ranked_table(NAMES, "e_form", profile)
    assert flipped["experiment"].tolist() == ["_claims_biased", "_claims_accurate"]

    stored.metrics["e_form"]["mae"] = 0.5  # a metric edited without its predictions
    registry.save(stored)
    with pytest.raises(ValueError, match="stored test MAE"):
        chapter_guard(profile)


def test_top_group_and_listing():
    ranked = claims.rank_with_ties(_predictions())
    assert set(claims.top_group(ranked)) == {"a", "c"}
    assert claims.top_group(ranked.reset_index(names="experiment")) == claims.top_group(ranked)
    assert claims.listing(["RF", "CGCNN"]) == "RF、CGCNN" and claims.listing([]) == "なし"
