"""Composition baseline: a random forest on composition features, and out-of-fold predictions.

Missing element data are imputed explicitly: some Magpie properties are undefined for some
elements (e.g. the Pauling electronegativity of He, Ne, Ar), so every statistic of such a
property is NaN for a material containing them. The pipeline replaces a missing feature by
its mean over the *training* materials (``SimpleImputer``), learned in ``fit`` like any other
parameter, instead of relying on featurizer-side defaults.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from ..config import Profile, resolve_profile

__all__ = ["random_forest", "out_of_fold_predict"]

CITATION_KEYS = ("breiman2001random", "ward2016general")


def random_forest(profile: Profile | str | None = None, *, n_estimators: int | None = None,
                  max_depth: int | None = None, seed: int | None = None,
                  n_jobs: int = -1) -> Pipeline:
    """Mean imputation followed by a random forest (the seed's 100 trees of depth 30).

    Args:
        profile: supplies ``rf_trees``, ``rf_depth`` and ``training.seed`` (default: the active profile).
        n_estimators, max_depth, seed: override the profile's values.
        n_jobs: parallel trees. The fitted forest does not depend on it, but threads add
            the trees' predictions in varying order (last-bit differences): call
            ``set_params(forest__n_jobs=1)`` before predicting for bit-identical predictions.

    Returns:
        An unfitted ``Pipeline([("impute", SimpleImputer), ("forest", RandomForestRegressor)])``.
    """
    profile = resolve_profile(profile)
    forest = RandomForestRegressor(
        n_estimators=n_estimators or profile.model.rf_trees,
        max_depth=max_depth or profile.model.rf_depth,
        random_state=profile.training.seed if seed is None else seed, n_jobs=n_jobs)
    return Pipeline([("impute", SimpleImputer(strategy="mean")), ("forest", forest)])


def out_of_fold_predict(make_model: Callable[[], RegressorMixin] | RegressorMixin,
                        X: np.ndarray, y: np.ndarray, *, n_splits: int = 5,
                        seed: int = 0) -> np.ndarray:
    """Predictions for every training row by a model that never saw that row.

    ``KFold(n_splits, shuffle=True, random_state=seed)`` over the rows given (pass the
    training set only): each fold is predicted by a fresh model fitted on the other folds.
    These honest training-set predictions are what a blending weight or a stacking
    meta-model may be fitted on; in-sample predictions of a random forest are nearly perfect
    and would mislead both.

    Args:
        make_model: a factory returning an unfitted estimator, or an estimator to clone.
        X: features ``(n, D)``; y: targets ``(n,)``.

    Returns:
        Array ``(n,)`` of out-of-fold predictions.
    """
    X, y = np.asarray(X), np.asarray(y, dtype=float)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if not 2 <= n_splits <= len(y):
        raise ValueError(f"n_splits must be between 2 and the {len(y)} rows, got {n_splits}")
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN/inf; drop those rows first")
    factory = make_model if callable(make_model) and not hasattr(make_model, "fit") else (
        lambda: clone(make_model))
    oof = np.empty(len(y))
    for fit_rows, predict_rows in KFold(n_splits, shuffle=True, random_state=seed).split(X):
        model = factory().fit(X[fit_rows], y[fit_rows])
        oof[predict_rows] = model.predict(X[predict_rows])
    return oof
