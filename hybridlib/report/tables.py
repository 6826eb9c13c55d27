"""Tables of measured results for the chapters, read from the run registry.

One row per experiment with the test metrics, training time and the display name and
family used in figures (``hl.plots.FAMILY_COLORS``, :mod:`.style`). Introduced in: chapter 5.2.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from ..config import Profile

__all__ = ["MODELS", "MULTITASK_RUNS", "metrics_table", "multitask_table", "transfer_table",
           "pareto_front", "total_seconds"]

#: experiment name -> (display name, family)
MODELS: dict[str, tuple[str, str]] = {
    "rf_magpie": ("RF (Magpie 132)", "composition"),
    "rf_ward": ("RF (Ward 2016, 145)", "composition"),
    "cgcnn": ("CGCNN", "graph"),
    "early_fusion": ("Early Fusion (連結)", "hybrid"),
    "attention_fusion": ("Early Fusion (Attention)", "hybrid"),
    "late_fusion_val": ("Late Fusion (α: 検証)", "hybrid"),
    "late_fusion_train": ("Late Fusion (α: 訓練, 誤)", "hybrid"),
    "stacking": ("Stacking (Ridge)", "hybrid"),
    "alignn_simple": ("ALIGNN 簡易版", "graph"),
    "alignn": ("ALIGNN", "graph"),
    "megnet_e_form": ("MEGNet (単一: e_form)", "graph"),
    "megnet_band_gap": ("MEGNet (単一: gap)", "graph"),
    "megnet_mt_equal": ("MEGNet MT (λ 等重み)", "multitask"),
    "megnet_mt_invvar": ("MEGNet MT (λ 1/分散)", "multitask"),
    "megnet_mt_seed": ("MEGNet MT (λ 1.0/0.5)", "multitask"),
    "megnet_mt_uncertainty": ("MEGNet MT (不確実性)", "multitask"),
}


def metrics_table(names: Iterable[str], target: str = "e_form",
                  profile: Profile | str | None = None) -> pd.DataFrame:
    """Test metrics of experiments (trained on demand, else read from the registry).

    Returns:
        Columns ``experiment, model, family, mae, rmse, r2, train_time_s``; experiments
        that do not predict ``target`` are left out. ``train_time_s`` is the whole cost of
        the prediction: a composite (late fusion, stacking) adds the time of the models it
        combines to its own.
    """
    from ..experiments import run

    rows = []
    for name in names:
        result = run(name, profile)
        if target not in result.metrics:
            continue
        label, family = MODELS.get(name, (name, "baseline"))
        metrics = result.metrics[target]
        rows.append({"experiment": name, "model": label, "family": family,
                     "mae": metrics["mae"], "rmse": metrics["rmse"], "r2": metrics["r2"],
                     "train_time_s": total_seconds(name, profile, result)})
    return pd.DataFrame(rows)


def total_seconds(name: str, profile: Profile | str | None = None, result=None) -> float:
    """Training time of an experiment plus that of every experiment it combines.

    ``result`` is the experiment's run when the caller already holds it (saves a reload).
    """
    from ..experiments import _lookup, run

    result = result or run(name, profile)
    return result.train_seconds + sum(
        total_seconds(required, profile) for required in _lookup(name).requires)


#: The MEGNet runs of chapter 5.5: single-task baselines first, then the task weightings.
MULTITASK_RUNS = ("megnet_e_form", "megnet_band_gap", "megnet_mt_equal", "megnet_mt_invvar",
                  "megnet_mt_seed", "megnet_mt_uncertainty")


def multitask_table(profile: Profile | str | None = None,
                    names: Iterable[str] = MULTITASK_RUNS) -> pd.DataFrame:
    """Test errors of the MEGNet runs: e_form MAE, band-gap MAE overall / metals / non-metals.

    Returns:
        One row per run (index: experiment) with ``model, weights, e_form_mae, band_gap_mae,
        gap_mae_metal, gap_mae_nonmetal, train_time_s``; NaN where a run lacks a target.
    """
    from ..experiments import run

    rows = {}
    for name in names:
        result = run(name, profile)
        by_class = result.extra.get("band_gap_by_class", {})
        weights = result.extra.get("weights")
        rows[name] = {
            "model": MODELS.get(name, (name, ""))[0],
            "weights": None if weights is None else
            " / ".join(f"{w:.3g}" for w in weights.values()),
            "e_form_mae": result.metrics.get("e_form", {}).get("mae", float("nan")),
            "band_gap_mae": result.metrics.get("band_gap", {}).get("mae", float("nan")),
            "gap_mae_metal": by_class.get("metal", {}).get("mae", float("nan")),
            "gap_mae_nonmetal": by_class.get("nonmetal", {}).get("mae", float("nan")),
            "train_time_s": result.train_seconds,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def transfer_table(table: pd.DataFrame) -> pd.DataFrame:
    """Relative change of each multitask run's MAE against its single-task baseline.

    Positive = the multitask model is worse (negative transfer) for that target.
    """
    base = {"e_form_mae": table.loc["megnet_e_form", "e_form_mae"],
            "band_gap_mae": table.loc["megnet_band_gap", "band_gap_mae"]}
    multi = table.drop(index=["megnet_e_form", "megnet_band_gap"])
    out = pd.DataFrame({f"{k} change %": 100 * (multi[k] / v - 1) for k, v in base.items()})
    out.insert(0, "model", multi["model"])
    return out


def pareto_front(table: pd.DataFrame, error: str = "mae", cost: str = "train_time_s") -> pd.Series:
    """True for rows that no other row beats on both ``error`` and ``cost`` (lower is better)."""
    values = table[[error, cost]].to_numpy(float)
    dominated = [bool(((values <= row).all(axis=1) & (values < row).any(axis=1)).any())
                 for row in values]
    return pd.Series([not d for d in dominated], index=table.index, name="pareto")
