"""Building blocks shared by the experiment runners: data, graphs, training, predictions.

Every runner follows the same recipe: ``ctx.table()`` (the profile's data set, with the
training split limited for learning curves; :class:`~hybridlib.experiments.RunContext`) ->
features or :func:`graph_splits` -> fit on ``train`` for the whole schedule, keep the best weights on ``val`` ->
:func:`predictions_frame` for ``val`` and ``test``.
:func:`fit_graph_model` is that recipe for any torch graph model.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import weights
from ..config import Profile
from ..train import FitResult, TrainConfig, fit
from . import Outcome, RunContext

__all__ = ["SPLITS", "split_frames", "composition_matrix", "graph_splits",
           "predictions_frame", "fit_graph_model", "batch_norm_monitor"]

SPLITS = ("train", "val", "test")


def split_frames(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{"train", "val", "test"}`` -> the rows of that split (each non-empty)."""
    frames = {s: df[df["split"] == s].reset_index(drop=True) for s in SPLITS}
    empty = [s for s, f in frames.items() if f.empty]
    if empty:
        raise ValueError(f"splits {empty} are empty; the data set is too small")
    return frames


def composition_matrix(df: pd.DataFrame, preset: str = "magpie", *,
                       impute_nan: bool = False) -> np.ndarray:
    """Composition features ``(n, D)`` of ``df`` (cached); NaN kept unless ``impute_nan``."""
    from ..features import featurize_frame

    return featurize_frame(df, preset, impute_nan=impute_nan)


def graph_splits(frames: dict[str, pd.DataFrame], targets: Sequence[str], profile: Profile, *,
                 comp_preset: str | None = None, line_graph: bool = False) -> dict[str, list]:
    """Crystal graphs of every split, with targets ``y`` and optionally composition ``comp``.

    ``comp`` holds the raw features (NaN where element data are missing); fusion models
    standardize and impute them with training-set statistics. Graph settings come from
    ``profile.graph``.
    """
    from ..graphs import graph_dataset

    return {split: graph_dataset(
        frame, profile.graph, line_graph=line_graph, targets=list(targets),
        comp=None if comp_preset is None else composition_matrix(frame, comp_preset))
        for split, frame in frames.items()}


def predictions_frame(frames: dict[str, pd.DataFrame], predictions: dict[str, np.ndarray],
                      targets: Sequence[str],
                      columns: dict[str, dict[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """Table of predictions in the registry's layout.

    Args:
        frames: split -> rows (``material_id`` and target columns).
        predictions: split -> array ``(n, T)`` (or ``(n,)`` for one target); the splits
            given (``"val"`` and ``"test"``, plus ``"train"`` for in-sample fits) are kept,
            in the order train, val, test.
        targets: target names, in column order of the predictions.
        columns: extra columns, name -> split -> array (e.g. each source model's prediction).

    Returns:
        ``material_id, split, <target>, <target>_pred, ...``.
    """
    parts = []
    for split in (s for s in SPLITS if s in predictions):
        frame = frames[split]
        pred = np.asarray(predictions[split], dtype=float).reshape(len(frame), len(targets))
        part = pd.DataFrame({"material_id": frame["material_id"].astype(str).to_numpy(),
                             "split": split})
        for t, target in enumerate(targets):
            part[target] = frame[target].to_numpy(dtype=float)
            part[f"{target}_pred"] = pred[:, t]
        for name, by_split in (columns or {}).items():
            part[name] = np.asarray(by_split[split], dtype=float)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def fit_graph_model(ctx: RunContext, build_model: Callable[[list], nn.Module],
                    targets: Sequence[str] = ("e_form",), *, comp_preset: str | None = None,
                    line_graph: bool = False, graph: dict | None = None, loss: str = "l1",
                    weighting: nn.Module | None = None, train_predictions: bool = False,
                    columns: Callable[[nn.Module, list], dict[str, np.ndarray]] | None = None,
                    monitor: Callable[[nn.Module, Callable, dict], dict] | None = None,
                    **train_overrides) -> tuple[Outcome, FitResult]:
    """Train a graph model on the profile's data and predict val and test.

    Args:
        ctx: the run's context (profile, data, checkpoint folder).
        build_model: called with the training graphs (e.g. for composition statistics)
            after seeding torch with ``profile.training.seed``; returns the untrained model.
        targets: target columns, in the model's output order.
        comp_preset: attach composition features (``"magpie"``) as ``graph.comp``.
        line_graph: build the ALIGNN line graph too.
        graph: graph settings of this model that differ from ``profile.graph`` (e.g.
            ``{"undirected": True}`` for ALIGNN).
        loss, weighting: passed to :func:`hybridlib.train.fit`.
        train_predictions: also store the in-sample predictions of the training split.
        columns: ``columns(model, graphs) -> {name: (n,) array}`` adds per-material columns
            (e.g. attention weights) for each stored split.
        monitor: a diagnostic measured at every evaluation,
            ``monitor(model, evaluate, graphs) -> dict`` (stored in the history rows; see
            the ``monitor`` of :func:`hybridlib.train.fit`; ``graphs``: split -> graphs).
        train_overrides: :class:`~hybridlib.train.TrainConfig` fields to change.

    Returns:
        The :class:`Outcome` (predictions, fitting time, history, best epoch, and the
        trained model as :mod:`hybridlib.weights` for the registry) and the
        :class:`~hybridlib.train.FitResult`.
    """
    profile = ctx.profile
    targets = ctx.targets(targets)
    frames = split_frames(ctx.table())
    model_profile = profile.with_(graph=graph or {})
    graphs = graph_splits(frames, targets, model_profile,
                          comp_preset=comp_preset, line_graph=line_graph)
    torch.manual_seed(profile.training.seed)
    with weights.recording() as construction:  # constructor arguments, to rebuild the model
        model = build_model(graphs["train"])
    config = TrainConfig.from_profile(profile, **train_overrides)
    result = fit(model, graphs["train"], graphs["val"], config, weighting=weighting, loss=loss,
                 checkpoint_dir=ctx.checkpoints,
                 monitor=None if monitor is None else
                 lambda trained, evaluate: monitor(trained, evaluate, graphs))
    splits = ("train", "val", "test") if train_predictions else ("val", "test")
    predictions = {s: result.predict(graphs[s]) for s in splits}
    extra_columns: dict[str, dict[str, np.ndarray]] = {}
    if columns is not None:
        with torch.no_grad():
            for split in splits:
                for name, values in columns(result.model, graphs[split]).items():
                    extra_columns.setdefault(name, {})[split] = values
    outcome = Outcome(
        predictions=predictions_frame(frames, predictions, targets, extra_columns),
        train_seconds=result.train_seconds,
        extra={"history": result.history, "best_epoch": result.best_epoch,
               "n_train": len(graphs["train"]), "epochs_run": result.epochs,
               "steps_run": result.steps,
               "seconds_per_epoch": result.train_seconds / result.epochs},
        weights=weights.graph_weights(result, construction, frames["train"], targets,
                                      model_profile.graph, comp_preset=comp_preset,
                                      line_graph=line_graph, check_graphs=graphs["val"][:64]))
    return outcome, result


def batch_norm_monitor(model, evaluate, graphs, recalibrate: bool = True) -> dict:
    """Per evaluation: the scale of every batch norm's input on a training batch and, with
    ``recalibrate``, the validation MAE of the same weights with batch-norm statistics
    recomputed on the training split (:mod:`hybridlib.train.diagnostics`)."""
    from ..train.diagnostics import batch_norm_input_scale, recalibrated_batch_norm

    row = {"bn_input_std": batch_norm_input_scale(model, graphs["train"])}
    if recalibrate:
        row["val_mae_recalibrated"] = evaluate(
            recalibrated_batch_norm(model, graphs["train"]))["val_mae"]
    return row
