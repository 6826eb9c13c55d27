"""How sure a measured difference is: bootstrap intervals, seed spread, unseen formulas.

Every number here is computed from predictions already stored in the run registry; nothing
is trained again.

* :func:`bootstrap_means` resamples the test rows with replacement (one fixed set of
  resamples shared by all models, so differences between models are *paired*: each
  resample compares the models on the same materials).
* :func:`mae_interval` / :func:`mae_difference` give the percentile interval of one MAE and
  of the difference of two MAEs on the same rows.
* :func:`seed_summary` is the mean and sample standard deviation over repeated trainings.
* :func:`unseen_formula_ids` picks the test materials whose reduced formula no training
  material has (the rows a composition model cannot have memorised).

Introduced in: chapter 5.3 (intervals) and 5.6 (seeds, unseen formulas).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..results import Run

__all__ = ["Interval", "N_BOOT", "LEVEL", "bootstrap_means", "percentile_interval",
           "mae_interval", "mae_difference", "absolute_errors", "aligned_predictions",
           "seed_summary", "unseen_formula_ids"]

#: Bootstrap resamples and interval level used throughout the book.
N_BOOT = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap percentile interval.

    Attributes:
        estimate: the value on the rows themselves (not the bootstrap mean).
        low, high: interval bounds at ``level``.
        level: coverage, e.g. 0.95.
        n: number of rows the estimate is computed on.
    """

    estimate: float
    low: float
    high: float
    level: float = LEVEL
    n: int = 0

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.estimate:.4f} [{self.low:.4f}, {self.high:.4f}]"


def bootstrap_means(values: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """Means of ``values`` over ``n_boot`` resamples of its rows (with replacement).

    Args:
        values: shape ``(n,)`` or ``(n, m)``; the columns (e.g. the absolute errors of ``m``
            models on the same ``n`` materials) are resampled *together*.
        n_boot: number of resamples.
        seed: the resamples depend only on ``(n, n_boot, seed)``.

    Returns:
        Shape ``(n_boot,)`` or ``(n_boot, m)``.

    Raises:
        ValueError: no rows, or non-finite values.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim not in (1, 2) or len(values) == 0:
        raise ValueError(f"need a non-empty vector or matrix of rows, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("values contain NaN or infinite entries; drop those rows first")
    n = len(values)
    rows = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot) * n)[:, None]
    counts = np.bincount((rows + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n)
    return counts @ values / n


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap ``samples``."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    tail = (1 - level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return float(low), float(high)


def absolute_errors(y_true, y_pred) -> np.ndarray:
    """``|y_pred - y_true|`` as floats, after checking both have the same length."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    return np.abs(y_pred - y_true)


def mae_interval(y_true, y_pred, *, n_boot: int = N_BOOT, level: float = LEVEL,
                 seed: int = 0) -> Interval:
    """MAE of ``y_pred`` with its bootstrap percentile interval over the rows."""
    errors = absolute_errors(y_true, y_pred)
    low, high = percentile_interval(bootstrap_means(errors, n_boot, seed), level)
    return Interval(float(errors.mean()), low, high, level, len(errors))


def mae_difference(y_true, pred_a, pred_b, *, n_boot: int = N_BOOT, level: float = LEVEL,
                   seed: int = 0) -> Interval:
    """``MAE(a) - MAE(b)`` on the same rows, with a paired bootstrap percentile interval.

    Both models are scored on every resample of the same rows, so the interval reflects
    how the difference varies with the choice of materials, not the (much larger) spread of
    each MAE alone. Negative = ``a`` has the smaller error.
    """
    diff = absolute_errors(y_true, pred_a) - absolute_errors(y_true, pred_b)
    low, high = percentile_interval(bootstrap_means(diff, n_boot, seed), level)
    return Interval(float(diff.mean()), low, high, level, len(diff))


def aligned_predictions(runs: Mapping[str, "Run"], target: str = "e_form",
                        split: str = "test") -> pd.DataFrame:
    """The runs' predictions of ``target`` on ``split``, one row per material.

    Args:
        runs: name -> :class:`~hybridlib.results.Run`, all on the same data and split.

    Returns:
        Index ``material_id``; column ``y`` (the true value) and one column per run.

    Raises:
        ValueError: the runs cover different materials or disagree on the true values, or a
            run's stored MAE is not the MAE of its stored predictions (an edited registry).
    """
    columns, truth = {}, None
    for name, run in runs.items():
        part = run.predictions[run.predictions["split"] == split].set_index("material_id")
        if f"{target}_pred" not in part or part.empty:
            raise ValueError(f"run {name!r} has no {target!r} predictions on split {split!r}")
        stored = run.metrics.get(target, {}).get("mae") if split == "test" else None
        mae = float(np.abs(part[f"{target}_pred"] - part[target]).mean())
        if stored is not None and not np.isclose(stored, mae, rtol=1e-9, atol=1e-12):
            raise ValueError(f"run {name!r}: stored test MAE {stored} differs from the MAE "
                             f"{mae} of its stored predictions; the registry entry was edited")
        if truth is None:
            truth = part[target]
        elif set(part.index) != set(truth.index):
            raise ValueError(f"run {name!r} covers other {split} materials than "
                             f"{next(iter(runs))!r}: the runs are not on the same split")
        elif not np.allclose(part.loc[truth.index, target], truth, rtol=0, atol=1e-9):
            raise ValueError(f"run {name!r} has other true {target} values than "
                             f"{next(iter(runs))!r}")
        columns[name] = part.loc[truth.index, f"{target}_pred"]
    if truth is None:
        raise ValueError("no runs given")
    return pd.DataFrame({"y": truth, **columns})


def seed_summary(values: Iterable[float]) -> dict:
    """Mean, sample standard deviation (``ddof=1``; NaN for one value) and count."""
    values = np.asarray(list(values), dtype=float)
    if len(values) == 0:
        raise ValueError("no values to summarise")
    sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return {"mean": float(values.mean()), "sd": sd, "n": int(len(values))}


def unseen_formula_ids(dataset: pd.DataFrame, split: str = "test",
                       reference: str = "train") -> set[str]:
    """Ids of ``split`` materials whose reduced formula no ``reference`` material has.

    Args:
        dataset: a table with ``material_id, formula, split`` (``hl.data.load_dataset``).

    Raises:
        ValueError: a column is missing or ``split`` has no rows.
    """
    missing = {"material_id", "formula", "split"} - set(dataset.columns)
    if missing:
        raise ValueError(f"the table lacks columns {sorted(missing)}")
    part = dataset[dataset["split"] == split]
    if part.empty:
        raise ValueError(f"the table has no rows in split {split!r}")
    known = set(dataset.loc[dataset["split"] == reference, "formula"])
    return set(part.loc[~part["formula"].isin(known), "material_id"])

