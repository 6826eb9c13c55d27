"""How training went: a table of each run's budget and best epoch, validation curves per
epoch, the batch-norm diagnostic of chapter 5.4.

The helpers read what a run stores (``run.extra``: ``history`` with one row per evaluation
— ``epoch``, ``val_mae``, ``lr``, ... — ``best_epoch``, ``epochs_run``, ``steps_run``;
:class:`hybridlib.train.FitResult`); figures come in the book style
(:mod:`hybridlib.report.plots`).

Introduced in: chapter 5.2.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import OTHER_COLORS, new_figure, styled

__all__ = ["training_summary", "validation_curves", "batch_norm_diagnostic"]


def training_summary(names: Iterable[str], profile=None, target: str = "e_form",
                     labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per torch run: test MAE, best epoch, epochs and steps run, training time.

    Args:
        names: experiment names (each trained on demand, else read from the registry).
        profile: the profile (default: ``HYBRIDLIB_PROFILE``).
        target: the target whose test MAE is shown.
        labels: display names (default: the experiment names).

    Returns:
        Index ``experiment``; columns ``model, mae, best_epoch, epochs_run, steps_run,
        train_time_s``.
    """
    from ..experiments import run

    rows = {}
    for name in names:
        result = run(name, profile)
        rows[name] = {"model": (labels or {}).get(name, name),
                      "mae": result.metrics[target]["mae"],
                      "best_epoch": result.extra["best_epoch"],
                      "epochs_run": result.extra["epochs_run"],
                      "steps_run": result.extra["steps_run"],
                      "train_time_s": result.train_seconds}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "experiment"
    return table


def _curve(history: Sequence[dict], key: str = "val_mae", task: int = 0):
    if not history:
        raise ValueError("empty history: the run stored no evaluations")
    epochs = np.array([row["epoch"] for row in history], dtype=float)
    values = np.array([row[key][task] if isinstance(row[key], (list, tuple)) else row[key]
                       for row in history], dtype=float)
    return epochs, values


@styled
def validation_curves(histories: Mapping[str, Sequence[dict]], unit: str = "eV/atom", *,
                      task: int = 0, log: bool = True) -> Figure:
    """Validation MAE per epoch of several runs, the restored (best) epoch of each marked.

    Args:
        histories: display name -> the run's ``extra["history"]``.
        unit: unit of the MAE (axis label).
        task: which target of multitask runs.
        log: logarithmic MAE axis.
    """
    if not histories:
        raise ValueError("histories is empty")
    fig, axes = new_figure(6.4, 4.0)
    ax = axes[0, 0]
    for i, (name, history) in enumerate(histories.items()):
        epochs, values = _curve(history, task=task)
        color = OTHER_COLORS[i % len(OTHER_COLORS)]
        ax.plot(epochs, values, color=color, label=name, lw=1.4)
        best = int(np.nanargmin(values))
        ax.plot(epochs[best], values[best], "o", color=color, ms=6)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("エポック")
    ax.set_ylabel(f"検証 MAE ({unit})")
    ax.set_title("検証 MAE の推移（●：最良エポック、その重みを使う）")
    ax.legend()
    return fig


@styled
def batch_norm_diagnostic(epochs: Sequence[float], running: Sequence[float],
                          recalibrated: Sequence[float], unit: str = "eV/atom") -> Figure:
    """Validation MAE per epoch with the batch-norm running statistics the model kept and
    with statistics recomputed on the training data (same weights)."""
    epochs = np.asarray(epochs, dtype=float)
    running, recalibrated = np.asarray(running, float), np.asarray(recalibrated, float)
    if not (epochs.shape == running.shape == recalibrated.shape) or epochs.size == 0:
        raise ValueError("epochs, running and recalibrated need the same, non-zero length")
    fig, axes = new_figure(6.4, 4.0)
    ax = axes[0, 0]
    ax.plot(epochs, running, color=OTHER_COLORS[1], lw=1.4, marker=".",
            label="学習中に更新した移動平均の統計量")
    ax.plot(epochs, recalibrated, color=OTHER_COLORS[0], lw=1.4, marker=".",
            label="訓練データで計算し直した統計量")
    ax.set_yscale("log")
    ax.set_xlabel("エポック")
    ax.set_ylabel(f"検証 MAE ({unit})")
    ax.set_title("同じ重み、二通りのバッチ正規化統計量")
    ax.legend()
    return fig
