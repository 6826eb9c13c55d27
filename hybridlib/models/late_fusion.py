"""Late fusion: blend or stack the predictions of two independently trained models.

The blending weight :math:`\\alpha` of
:math:`\\hat y = \\alpha\\,\\hat y_A + (1-\\alpha)\\,\\hat y_B` and the stacking meta-model are *fitted*, so they must be fitted on predictions the base
models made for materials they were not trained on: validation predictions, or out-of-fold
predictions of the training set (:func:`hybridlib.models.baselines.out_of_fold_predict`).
Fitted on in-sample training predictions they favour whichever model memorised its training
set best (a random forest fits its training set almost perfectly), which is the leak the
chapter demonstrates. Nothing here takes test targets.

Introduced in: chapter 5.3.
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

__all__ = ["blend", "blend_alpha", "Stacking"]

CITATION_KEYS = ("wolpert1992stacked", "breiman1996stacked")


def _as_columns(*arrays) -> list[np.ndarray]:
    arrays = [np.asarray(a, dtype=float).reshape(-1) for a in arrays]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"arrays of unequal length {[len(a) for a in arrays]}")
    return arrays


def blend(pred_a, pred_b, alpha: float) -> np.ndarray:
    """:math:`\\alpha\\,\\hat y_A + (1-\\alpha)\\,\\hat y_B`."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    pred_a, pred_b = _as_columns(pred_a, pred_b)
    return alpha * pred_a + (1.0 - alpha) * pred_b


def blend_alpha(pred_a, pred_b, y, alphas=None) -> tuple[float, np.ndarray]:
    """The weight of model A that minimises the MAE of the blend on ``(pred, y)``.

    Args:
        pred_a, pred_b: predictions ``(n,)`` of the two models for the *same* materials,
            made without training on them (validation or out-of-fold).
        y: their targets; NaN rows are ignored.
        alphas: candidate weights in [0, 1] (default ``np.linspace(0, 1, 101)``).

    Returns:
        ``(alpha, mae_curve)``: the best weight (the smallest on ties) and the MAE of every
        candidate, ``mae_curve[k]`` for ``alphas[k]``.
    """
    alphas = np.linspace(0.0, 1.0, 101) if alphas is None else np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0 or (alphas < 0).any() or (alphas > 1).any():
        raise ValueError("alphas must be a non-empty 1-D array of weights in [0, 1]")
    pred_a, pred_b, y = _as_columns(pred_a, pred_b, y)
    keep = np.isfinite(y)
    if not keep.any():
        raise ValueError("no finite target to choose alpha on")
    if not (np.isfinite(pred_a[keep]).all() and np.isfinite(pred_b[keep]).all()):
        raise ValueError("predictions contain NaN/inf")
    blends = alphas[:, None] * pred_a[keep] + (1.0 - alphas[:, None]) * pred_b[keep]
    curve = np.abs(blends - y[keep]).mean(axis=1)
    return float(alphas[int(np.argmin(curve))]), curve


class Stacking:
    """Ridge regression from base-model predictions to the target (stacked generalisation).

    The ridge penalty is chosen by efficient leave-one-out cross-validation on the stacking
    set (``RidgeCV``). Fit it on validation or out-of-fold predictions; :meth:`predict` takes
    predictions only, so test targets cannot reach it.

    Args:
        penalties: candidate ridge penalties.
    """

    CITATION_KEYS = CITATION_KEYS

    def __init__(self, penalties=np.logspace(-4, 3, 15)) -> None:
        self.penalties = np.asarray(penalties, dtype=float)

    def fit(self, predictions: np.ndarray, y) -> "Stacking":
        """Fit on base predictions ``(n, k)`` and targets ``(n,)`` (NaN rows skipped)."""
        predictions = np.asarray(predictions, dtype=float)
        y = np.asarray(y, dtype=float).reshape(-1)
        if predictions.ndim != 2 or len(predictions) != len(y):
            raise ValueError(f"need predictions (n, k) and y (n,), got {predictions.shape} "
                             f"and {y.shape}")
        keep = np.isfinite(y)
        if keep.sum() < 2:
            raise ValueError("stacking needs at least two finite targets")
        self.model_ = RidgeCV(alphas=self.penalties).fit(predictions[keep], y[keep])
        self.coef_ = self.model_.coef_.copy()
        self.intercept_ = float(self.model_.intercept_)
        return self

    def predict(self, predictions: np.ndarray) -> np.ndarray:
        """Stacked prediction ``(n,)`` from base predictions ``(n, k)``."""
        if not hasattr(self, "model_"):
            raise RuntimeError("Stacking.predict called before fit")
        return self.model_.predict(np.asarray(predictions, dtype=float))

    def __repr__(self) -> str:
        fitted = f", coef={np.round(self.coef_, 3).tolist()}" if hasattr(self, "coef_") else ""
        return f"{type(self).__name__}(n_penalties={len(self.penalties)}{fitted})"
