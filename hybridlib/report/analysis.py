"""Small analyses of data and predictions that the chapters show (polymorphs, error by class).

Introduced in: chapter 5.1 (polymorphs) and 5.6 (errors by material class).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["polymorph_groups", "composition_only_floor", "error_by_class"]


def polymorph_groups(df: pd.DataFrame, target: str = "e_form", min_size: int = 2) -> pd.DataFrame:
    """Formulas that occur as several distinct crystals, with the spread of ``target``.

    Returns:
        One row per reduced formula with at least ``min_size`` materials: ``formula``,
        ``n``, ``min``, ``max``, ``range`` of the target and the ``material_ids``,
        sorted by decreasing range.
    """
    grouped = df.groupby("formula")
    sizes = grouped["material_id"].transform("size")
    poly = df[sizes >= min_size]
    table = poly.groupby("formula").agg(
        n=("material_id", "size"), min=(target, "min"), max=(target, "max"),
        material_ids=("material_id", list))
    table["range"] = table["max"] - table["min"]
    return table.sort_values("range", ascending=False).reset_index()


def composition_only_floor(df: pd.DataFrame, target: str = "e_form") -> float:
    """Smallest MAE any composition-only model can reach on ``df``.

    A model that sees only the composition must give every polymorph of a formula the
    same prediction; the best single value for a group under absolute error is its
    median, so the mean absolute deviation from the per-formula median is a floor that
    no composition model can beat on these rows (structure models can).
    """
    medians = df.groupby("formula")[target].transform("median")
    return float(np.mean(np.abs(df[target] - medians)))


def error_by_class(frame: pd.DataFrame, truth: str, pred: str, classes: pd.Series) -> pd.DataFrame:
    """MAE of ``pred`` against ``truth`` within each class label (with counts)."""
    err = (frame[truth] - frame[pred]).abs()
    out = err.groupby(classes.to_numpy()).agg(["mean", "size"])
    return out.rename(columns={"mean": "mae", "size": "n"})
