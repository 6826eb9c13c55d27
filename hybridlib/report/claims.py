"""Sentences that follow from the measurements, and guards for the ones typed in the prose.

A chapter never types "A is better than B". It either

* glues a sentence chosen here from the paired bootstrap interval of the MAE difference
  (:meth:`Comparison.sentence`: a direction only when the interval excludes zero, otherwise
  "indistinguishable at this data size"), or
* keeps a fixed sentence and backs it with :func:`require` / :func:`require_winner` in a
  hidden cell, so a build whose numbers no longer support the sentence fails with
  :class:`ClaimError` instead of printing it.

:func:`rank_with_ties` ranks models by how many others beat them beyond doubt, so models
that cannot be told apart share a rank; ranks never decrease as the MAE grows.

Introduced in: chapter 5.3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from .stats import (LEVEL, N_BOOT, Interval, bootstrap_means, mae_difference,
                    percentile_interval)

__all__ = ["ClaimError", "Comparison", "compare", "rank_with_ties", "top_group", "listing",
           "require", "require_winner"]


class ClaimError(AssertionError):
    """A sentence of the book is contradicted by the numbers of this build."""


@dataclass(frozen=True)
class Comparison:
    """``MAE(a) - MAE(b)`` on the same test rows, with its paired bootstrap interval.

    Attributes:
        a, b: the compared runs (experiment names).
        difference: the interval of ``MAE(a) - MAE(b)`` (negative: ``a`` is better).
        labels: display names of ``a`` and ``b``.
        unit: unit of the target (e.g. ``"eV/atom"``).
        digits: decimals shown in sentences.
    """

    a: str
    b: str
    difference: Interval
    labels: tuple[str, str]
    unit: str = "eV/atom"
    digits: int = 4

    @property
    def winner(self) -> str | None:
        """The run with the smaller MAE when the interval excludes zero, else ``None``."""
        if not self.difference.excludes_zero:
            return None
        return self.a if self.difference.high < 0 else self.b

    @property
    def verdict(self) -> str:
        """``"better"`` (``a`` wins), ``"worse"`` (``b`` wins) or ``"tie"``."""
        return {self.a: "better", self.b: "worse", None: "tie"}[self.winner]

    def sentence(self) -> str:
        """The Japanese sentence this interval supports (no final 。)."""
        d, f, unit = self.difference, f".{self.digits}f", self.unit
        level = f"{100 * d.level:g} %"
        if self.winner is None:
            a, b = self.labels
            return (f"{a} と {b} は、このデータ量では区別できない（MAE の差（前者 − 後者）"
                    f"{d.estimate:+{f}} {unit}、{level} 区間 [{d.low:+{f}}, {d.high:+{f}}] "
                    f"がゼロを含む）")
        if self.winner == self.a:
            better, worse, gap, low, high = *self.labels, -d.estimate, -d.high, -d.low
        else:
            worse, better = self.labels
            gap, low, high = d.estimate, d.low, d.high
        return (f"{better} は {worse} より良い（MAE が {gap:{f}} {unit} 小さく、"
                f"{level} 区間は {low:{f}}〜{high:{f}} {unit}）")


def _labels(names: tuple[str, str], labels: Mapping[str, str] | None) -> tuple[str, str]:
    labels = labels or {}
    return tuple(labels.get(n, n) for n in names)  # type: ignore[return-value]


def compare(predictions: pd.DataFrame, a: str, b: str, *,
            labels: Mapping[str, str] | None = None, unit: str = "eV/atom", digits: int = 4,
            n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> Comparison:
    """Compare runs ``a`` and ``b`` on the rows of ``predictions``.

    Args:
        predictions: column ``y`` and one prediction column per run, one row per material
            (:func:`hybridlib.report.stats.aligned_predictions`).
        labels: run -> display name for the sentence (default: the run names).

    Raises:
        KeyError: ``a`` or ``b`` is not a column.
    """
    for name in (a, b):
        if name not in predictions:
            raise KeyError(f"no predictions of {name!r}; columns: {list(predictions.columns)}")
    y = predictions["y"]
    diff = mae_difference(y, predictions[a], predictions[b], n_boot=n_boot, level=level,
                          seed=seed)
    return Comparison(a, b, diff, _labels((a, b), labels), unit, digits)


def rank_with_ties(predictions: pd.DataFrame, *, n_boot: int = N_BOOT, level: float = LEVEL,
                   seed: int = 0) -> pd.DataFrame:
    """Rank the runs of ``predictions`` by MAE, with ties where the data cannot decide.

    Each run first counts the runs that beat it beyond doubt (lower MAE, with a paired
    bootstrap interval of the difference that excludes zero); all pairs use the same
    resamples. Its rank is 1 + that count, raised to the rank of any run with a lower MAE
    (the cumulative maximum along the MAE order), so ranks never decrease as the MAE
    grows: a run is never ranked ahead of a run with a lower MAE. Runs that share a rank
    are tied. Runs that no other run beats, and that have no beaten run below them in MAE,
    share rank 1; a run ranked 3 is beaten beyond doubt by two others, or by fewer while
    a run with a lower MAE is beaten by two.

    Returns:
        Index: run; columns ``mae, rank, tied`` (another run has the same rank),
        ``label`` (``"1"``, or ``"1="`` for a tie), ``diff_best, diff_best_low,
        diff_best_high`` (MAE minus that of the lowest-MAE run, with its interval; the best run
        itself has 0 and no interval, NaN); sorted
        by rank, then MAE.
    """
    names = [c for c in predictions.columns if c != "y"]
    if not names:
        raise ValueError("no prediction columns to rank")
    errors = np.abs(predictions[names].to_numpy(float) - predictions[["y"]].to_numpy(float))
    means = bootstrap_means(errors, n_boot, seed)
    mae = errors.mean(axis=0)
    beaten_by = np.zeros(len(names), dtype=int)
    for i in range(len(names)):
        for j in range(len(names)):
            if i != j:
                _, high = percentile_interval(means[:, j] - means[:, i], level)
                beaten_by[i] += high < 0
    order = np.argsort(mae, kind="stable")
    rank = np.empty(len(names), dtype=int)
    rank[order] = np.maximum.accumulate(beaten_by[order] + 1)
    best = int(order[0])
    bounds = [percentile_interval(means[:, i] - means[:, best], level) if i != best
              else (np.nan, np.nan) for i in range(len(names))]
    table = pd.DataFrame({"mae": mae, "rank": rank,
                          "diff_best": mae - mae[best],
                          "diff_best_low": [b[0] for b in bounds],
                          "diff_best_high": [b[1] for b in bounds]}, index=pd.Index(names))
    table.insert(2, "tied", table["rank"].duplicated(keep=False))
    table.insert(3, "label", [f"{r}=" if t else f"{r}" for r, t in
                              zip(table["rank"], table["tied"])])
    return table.sort_values(["rank", "mae"])


def top_group(ranked: pd.DataFrame) -> list[str]:
    """Runs of rank 1 (no other run is better beyond doubt), lowest MAE first.

    Args:
        ranked: :func:`rank_with_ties` output, or a table with ``experiment`` and ``rank``
            columns (:func:`hybridlib.report.tables.ranked_table`).
    """
    table = ranked.set_index("experiment") if "experiment" in ranked else ranked
    return list(table.index[table["rank"] == 1])


def listing(items) -> str:
    """Japanese enumeration: ``"A、B、C"`` (``"なし"`` when empty)."""
    items = [str(item) for item in items]
    return "、".join(items) if items else "なし"


def require(condition: bool, claim: str) -> None:
    """Fail the build when a sentence of the text (``claim``) is not true of this run.

    Raises:
        ClaimError: ``condition`` is false.
    """
    if not bool(condition):
        raise ClaimError(f"the text says {claim!r}, but this build's numbers do not support it")


def require_winner(comparison: Comparison, expected: str | None, claim: str) -> None:
    """Fail the build unless ``comparison`` has the winner the text states.

    Args:
        expected: the run the text calls better, or ``None`` when the text says the two
            cannot be told apart.
        claim: the sentence (for the error message).

    Raises:
        ClaimError: the interval gives another verdict.
    """
    if comparison.winner != expected:
        raise ClaimError(f"the text says {claim!r}, but this build measured: "
                         f"{comparison.sentence()}")
