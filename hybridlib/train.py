"""The one training loop for every torch model of the book, and regression metrics.

:func:`fit` trains a model that maps a batched graph to *standardized* targets ``(B, T)``:

* targets are standardized with the training set's mean and standard deviation (missing
  targets, NaN, are masked out of the loss task by task);
* AdamW with a one-cycle (or cosine) learning-rate schedule and gradient clipping;
* early stopping on the validation set only; the best-validation weights are restored;
* seeded and deterministic on CPU: epoch ``e`` shuffles with a generator seeded by
  ``(seed, e)`` and seeds dropout the same way, so a run interrupted after any epoch and
  resumed from its checkpoint ends with the same weights as an uninterrupted run;
* checkpoints are written atomically with a checksum (:mod:`hybridlib.cache`) and read back
  with ``torch.load(weights_only=True)``: nothing is unpickled.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from . import cache
from .config import Profile, resolve_profile

__all__ = ["TrainConfig", "FitResult", "fit", "regression_metrics", "resolve_device",
           "quiet_progress", "TrainingInterrupted"]

SCHEDULES = ("onecycle", "cosine", "constant")
LOSSES = ("l1", "mse")
CHECKPOINT_FILE = "last.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and stopping settings of one training run.

    Attributes:
        epochs: maximum number of passes over the training set.
        patience: stop after this many epochs without a better validation score.
        batch_size: graphs per optimiser step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        seed: seeds the shuffling and dropout of every epoch.
        grad_clip: maximum global gradient norm (``0`` disables clipping).
        schedule: ``"onecycle"`` (warm-up then cosine decay), ``"cosine"`` or ``"constant"``.
        standardize: train on (y - mean) / std of the training targets.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """

    epochs: int
    patience: int
    batch_size: int
    lr: float
    weight_decay: float
    seed: int
    grad_clip: float = 5.0
    schedule: str = "onecycle"
    standardize: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise ValueError(f"epochs, patience and batch_size must be >= 1, got {self}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    @classmethod
    def from_profile(cls, profile: Profile | str | None = None, **overrides) -> "TrainConfig":
        """Settings of a profile (``ci``/``book``/``full``), with some fields overridden."""
        profile = resolve_profile(profile)
        budget = profile.training
        base = cls(epochs=budget.epochs, patience=budget.patience,
                   batch_size=budget.batch_size, lr=budget.lr,
                   weight_decay=budget.weight_decay, seed=profile.seed)
        return replace(base, **overrides)


class TrainingInterrupted(RuntimeError):
    """Raised by a ``callback`` of :func:`fit` to stop training (the checkpoint is kept)."""


@dataclass
class FitResult:
    """A trained model with its standardization and training history.

    Attributes:
        model: the model holding the best-validation weights, in eval mode.
        history: one dict per epoch: ``epoch, train_loss, val_mae`` (list per task, original
            units), ``val_score`` (mean over tasks of val MAE / target std), ``lr, seconds``.
        best_epoch: epoch (1-based) whose weights were restored.
        train_seconds: wall time of all epochs, resumed ones included.
        target_mean, target_std: standardization of the targets, shape ``(T,)``.
    """

    model: nn.Module
    history: list[dict]
    best_epoch: int
    train_seconds: float
    target_mean: np.ndarray
    target_std: np.ndarray
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    @torch.no_grad()
    def predict(self, graphs: Sequence, batch_size: int = 256) -> np.ndarray:
        """Predictions ``(n, T)`` in the targets' original units, in the order of ``graphs``."""
        standardized = _predict_standardized(self.model, graphs, batch_size, self.device)
        return standardized * self.target_std + self.target_mean


# ----------------------------------------------------------------------------- metrics

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


# ----------------------------------------------------------------------------- helpers

def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def quiet_progress() -> bool:
    """True under CI or nbval (env ``CI`` or ``HYBRIDLIB_QUIET`` set to a true value)."""
    return any(os.environ.get(k, "").strip().lower() not in ("", "0", "false", "no")
               for k in ("CI", "HYBRIDLIB_QUIET"))


def _stack_targets(graphs: Sequence) -> np.ndarray:
    if len(graphs) == 0:
        raise ValueError("empty graph list: nothing to train or validate on")
    try:
        y = torch.cat([g.y.reshape(1, -1) for g in graphs]).double().numpy()
    except AttributeError as exc:
        raise ValueError("every graph needs a target tensor `y` of shape (1, n_targets)") from exc
    return y


def _target_stats(y: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    n_tasks = y.shape[1]
    if not standardize:
        return np.zeros(n_tasks), np.ones(n_tasks)
    counts = np.isfinite(y).sum(axis=0)
    if (counts == 0).any():
        raise ValueError(f"targets {np.flatnonzero(counts == 0).tolist()} have no finite value "
                         f"in the training set")
    mean = np.nanmean(y, axis=0)
    std = np.nanstd(y, axis=0)
    return mean, np.where(std > 0, std, 1.0)


def _loader(graphs: Sequence, batch_size: int, shuffle: bool, generator=None):
    from torch_geometric.loader import DataLoader

    # A lone one-atom crystal in the last batch would break batch norm in training.
    drop_last = shuffle and len(graphs) % batch_size == 1 and len(graphs) > 1
    return DataLoader(list(graphs), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, drop_last=drop_last)


def _predict_standardized(model: nn.Module, graphs: Sequence, batch_size: int,
                          device) -> np.ndarray:
    model.eval()
    outputs = [model(batch.to(device)).detach().double().cpu()
               for batch in _loader(graphs, batch_size, shuffle=False)]
    return torch.cat(outputs).numpy()


def _per_task_loss(pred: Tensor, target: Tensor, kind: str) -> Tensor:
    """Mean loss per task ``(T,)`` over the finite targets of the batch."""
    if pred.shape != target.shape:
        raise ValueError(f"model output {tuple(pred.shape)} does not match targets "
                         f"{tuple(target.shape)} (expected (batch, n_targets))")
    mask = torch.isfinite(target)
    diff = torch.where(mask, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    per_element = diff.abs() if kind == "l1" else diff**2
    return per_element.sum(dim=0) / mask.sum(dim=0).clamp(min=1)


def _learning_rate_scheduler(optimizer, config: TrainConfig, total_steps: int):
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total_steps)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(cache.fingerprint("epoch", seed, epoch, length=15), 16)


def _run_fingerprint(model: nn.Module, config: TrainConfig, loss: str, n_train: int,
                     n_val: int, weighting: nn.Module | None) -> str:
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    return cache.fingerprint(type(model).__name__, shapes, asdict(config), loss, n_train, n_val,
                             type(weighting).__name__ if weighting is not None else None)


# ------------------------------------------------------------------------------- fit

def fit(model: nn.Module, train: Sequence, val: Sequence, config: TrainConfig, *,
        weighting: nn.Module | None = None, loss: str = "l1",
        checkpoint_dir: str | Path | None = None, progress: bool | None = None,
        callback: Callable[[dict], None] | None = None) -> FitResult:
    """Train ``model`` with early stopping on ``val`` and return it with its history.

    Args:
        model: ``forward(batch) -> (B, T)`` standardized predictions.
        train, val: graphs (PyG ``Data``) with targets ``y`` of shape ``(1, T)``; NaN marks a
            missing target, masked out of the loss and the validation MAE.
        config: optimiser and stopping settings.
        weighting: optional module mapping the per-task losses ``(T,)`` to the scalar loss
            (multitask weighting); its parameters are optimised too. Default: the mean.
        loss: ``"l1"`` (MAE, as CGCNN/ALIGNN) or ``"mse"``.
        checkpoint_dir: folder for the training state after every epoch; a later call with
            the same folder, model and settings resumes from the last finished epoch.
        progress: show a progress bar (default: unless :func:`quiet_progress`).
        callback: called with each epoch's history row after its checkpoint is written
            (raise :class:`TrainingInterrupted` there to stop, e.g. in tests).

    Returns:
        A :class:`FitResult` whose model holds the best-validation weights.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")
    device = resolve_device(config.device)
    y_train, y_val = _stack_targets(train), _stack_targets(val)
    if y_train.shape[1] != y_val.shape[1]:
        raise ValueError(f"train graphs have {y_train.shape[1]} targets but val graphs "
                         f"have {y_val.shape[1]}")
    mean, std = _target_stats(y_train, config.standardize)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device)
    std_t = torch.tensor(std, dtype=torch.float32, device=device)

    model.to(device)
    if weighting is not None:
        weighting.to(device)
    groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    if weighting is not None and any(True for _ in weighting.parameters()):
        groups.append({"params": list(weighting.parameters()), "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator()
    train_loader = _loader(train, config.batch_size, shuffle=True, generator=generator)
    scheduler = _learning_rate_scheduler(optimizer, config, config.epochs * len(train_loader))

    state = {"epoch": 0, "history": [], "best_score": math.inf, "best_epoch": 0,
             "best_model": copy.deepcopy(model.state_dict()),
             "best_weighting": weighting.state_dict() if weighting is not None else {},
             "stale": 0, "finished": False}
    run_id = _run_fingerprint(model, config, loss, len(train), len(val), weighting)
    path = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
    if path is not None and path.exists():
        _resume(path, run_id, state, model, optimizer, scheduler, weighting)

    show = (not quiet_progress()) if progress is None else progress
    from tqdm.auto import tqdm

    bar = tqdm(total=config.epochs, initial=state["epoch"], disable=not show, desc="epochs")
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices), contextlib.closing(bar):
        while not state["finished"] and state["epoch"] < config.epochs:
            epoch = state["epoch"] + 1
            start = time.perf_counter()
            generator.manual_seed(_epoch_seed(config.seed, epoch))
            torch.manual_seed(_epoch_seed(config.seed + 1, epoch))
            train_loss = _train_epoch(model, train_loader, optimizer, scheduler, weighting,
                                      loss, mean_t, std_t, config.grad_clip, device)
            val_pred = _predict_standardized(model, val, 256, device) * std + mean
            val_mae = [float(np.nanmean(np.abs(val_pred[:, t] - y_val[:, t])))
                       if np.isfinite(y_val[:, t]).any() else math.nan
                       for t in range(y_val.shape[1])]
            val_score = float(np.nanmean(np.asarray(val_mae) / std))
            row = {"epoch": epoch, "train_loss": train_loss, "val_mae": val_mae,
                   "val_score": val_score, "lr": float(optimizer.param_groups[0]["lr"]),
                   "seconds": time.perf_counter() - start}
            state["history"].append(row)
            state["epoch"] = epoch
            if val_score < state["best_score"]:
                state.update(best_score=val_score, best_epoch=epoch, stale=0,
                             best_model=copy.deepcopy(model.state_dict()),
                             best_weighting=copy.deepcopy(weighting.state_dict())
                             if weighting is not None else {})
            else:
                state["stale"] += 1
            state["finished"] = state["stale"] >= config.patience or epoch == config.epochs
            if path is not None:
                _save_checkpoint(path, run_id, state, model, optimizer, scheduler, weighting)
            bar.update(1)
            bar.set_postfix(val_mae=f"{val_mae[0]:.4f}")
            if callback is not None:
                callback(row)

    model.load_state_dict(state["best_model"])
    if weighting is not None:
        weighting.load_state_dict(state["best_weighting"])
    model.eval()
    return FitResult(model=model, history=state["history"], best_epoch=state["best_epoch"],
                     train_seconds=float(sum(r["seconds"] for r in state["history"])),
                     target_mean=mean, target_std=std, device=str(device),
                     extra={"weighting": weighting} if weighting is not None else {})


def _train_epoch(model, loader, optimizer, scheduler, weighting, loss, mean_t, std_t,
                 grad_clip, device) -> float:
    model.train()
    if weighting is not None:
        weighting.train()
    total, count = 0.0, 0
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for batch in loader:
        batch = batch.to(device)
        target = (batch.y.reshape(batch.num_graphs, -1) - mean_t) / std_t
        per_task = _per_task_loss(model(batch), target, loss)
        value = weighting(per_task) if weighting is not None else per_task.mean()
        if not torch.isfinite(value):
            raise FloatingPointError(f"the training loss became {value.item()} (NaN/inf); "
                                     f"lower the learning rate or check the inputs")
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        scheduler.step()
        total += value.item() * batch.num_graphs
        count += batch.num_graphs
    return total / max(count, 1)


def _save_checkpoint(path, run_id, state, model, optimizer, scheduler, weighting) -> None:
    cache.save_tensors(path, {
        "run_id": run_id, "state": state, "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "weighting": weighting.state_dict() if weighting is not None else {},
    })


def _resume(path, run_id, state, model, optimizer, scheduler, weighting) -> None:
    try:
        saved = cache.load_tensors(path)
    except cache.CacheCorruptedError as exc:
        warnings.warn(f"{exc}; training starts from scratch", stacklevel=3)
        return
    if saved.get("run_id") != run_id:
        warnings.warn(f"checkpoint {path} belongs to another model or settings; "
                      f"training starts from scratch", stacklevel=3)
        return
    state.update(saved["state"])
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    if weighting is not None:
        weighting.load_state_dict(saved["weighting"])
