"""Regression metrics of one target, NaN-aware.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["regression_metrics"]


def regression_metrics(y_true, y_pred) -> dict:
    """MAE, RMSE and R² of one target, ignoring pairs where either value is NaN.

    Args:
        y_true, y_pred: arrays of shape ``(n,)`` or ``(n, 1)`` (one target; call once per
            column for several targets).

    Returns:
        ``{"mae", "rmse", "r2", "n"}`` (``r2`` is NaN when fewer than two values remain or
        the targets are constant).
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_pred = y_pred[:, 0]
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(f"regression_metrics needs two 1-D arrays of equal length (one target); "
                         f"got shapes {y_true.shape} and {y_pred.shape}")
    keep = np.isfinite(y_true) & np.isfinite(y_pred)
    if not keep.any():
        raise ValueError("regression_metrics: no pair of finite values to compare")
    err = y_pred[keep] - y_true[keep]
    total = ((y_true[keep] - y_true[keep].mean()) ** 2).sum()
    r2 = 1.0 - (err**2).sum() / total if keep.sum() > 1 and total > 0 else math.nan
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean())),
            "r2": float(r2), "n": int(keep.sum())}
