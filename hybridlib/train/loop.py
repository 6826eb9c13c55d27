"""The training loop every torch model of the book shares (:func:`fit`).

:func:`fit` trains a model that maps a batched graph to *standardized* targets ``(B, T)``:

* targets are standardized with the training set's mean and standard deviation (missing
  targets, NaN, are masked out of the loss task by task);
* AdamW, gradient clipping and a learning-rate schedule (:mod:`.schedule`) that always runs
  to its end: the budget is a number of optimizer steps (rounded up to whole epochs), and
  nothing the validation set shows can cut it short;
* the validation set is evaluated after every epoch (every few epochs when the budget has
  many short epochs, :attr:`TrainConfig.max_evaluations`) and the weights of the best
  evaluation are restored at the end; epochs are ranked by the mean over tasks of
  MAE / (training standard deviation), whether or not the targets are standardized;
* the parameters of a task weighting (multitask) form their own parameter group, at their
  own constant learning rate, without warm-up;
* seeded and deterministic on CPU: epoch ``e`` shuffles with a generator seeded by
  ``(seed, e)`` and seeds dropout the same way, so a run interrupted and resumed from its
  checkpoint ends with the same weights as an uninterrupted run;
* checkpoints are written atomically with a checksum (:mod:`hybridlib.cache`) after every
  evaluation and read back with ``torch.load(weights_only=True)``: nothing is unpickled.

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

from .. import cache
from ..config import Profile, resolve_profile
from .schedule import SCHEDULES, lr_factor

__all__ = ["TrainConfig", "FitResult", "fit", "train_epoch", "resolve_device",
           "quiet_progress", "TrainingInterrupted", "LOSSES"]

LOSSES = ("l1", "mse")
CHECKPOINT_FILE = "last.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser settings and budget of one training run.

    Attributes:
        batch_size: graphs per optimizer step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        seed: seeds the shuffling and dropout of every epoch.
        steps: the budget in optimizer steps, rounded up to whole epochs (the same budget
            for every training-set size); give ``steps`` or ``epochs``.
        epochs: the budget in epochs instead (``steps`` must then be ``None``).
        grad_clip: maximum global gradient norm (``0`` disables clipping). At the book's
            peak rate a norm of 5 let MEGNet's band-gap run collapse to a constant; 1 did not.
        schedule: ``"onecycle"`` (warm-up then cosine decay), ``"cosine"`` or ``"constant"``.
        warmup: fraction of the steps spent warming up (``"onecycle"``).
        standardize: train on (y - mean) / std of the training targets.
        weighting_lr: constant learning rate of a task weighting's parameters.
        max_evaluations: at most this many validation passes (every epoch when the run
            has no more epochs than this, else every ``ceil(epochs / max_evaluations)``
            epochs, and always after the last one).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """

    batch_size: int
    lr: float
    weight_decay: float
    seed: int
    steps: int | None = None
    epochs: int | None = None
    grad_clip: float = 1.0
    schedule: str = "onecycle"
    warmup: float = 0.3
    standardize: bool = True
    weighting_lr: float = 1e-2
    max_evaluations: int = 30
    device: str = "auto"

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(f"give exactly one budget, steps or epochs; got steps={self.steps},"
                             f" epochs={self.epochs}")
        budget = self.steps if self.steps is not None else self.epochs
        if min(budget, self.batch_size, self.max_evaluations) < 1:
            raise ValueError(f"steps, epochs, batch_size and max_evaluations must be >= 1, "
                             f"got {self}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        if not (self.lr > 0 and self.weighting_lr > 0):
            raise ValueError(f"learning rates must be positive, got {self.lr}, "
                             f"{self.weighting_lr}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must lie in [0, 1), got {self.warmup}")

    @classmethod
    def from_profile(cls, profile: Profile | str | None = None, **overrides) -> "TrainConfig":
        """Settings of a profile (``ci``/``book``/``full``), with some fields overridden.

        Giving ``epochs`` (and not ``steps``) replaces the profile's step budget.
        """
        profile = resolve_profile(profile)
        budget = profile.training
        if "epochs" in overrides and "steps" not in overrides:
            overrides["steps"] = None
        base = dict(steps=budget.steps, batch_size=budget.batch_size, lr=budget.lr,
                    weight_decay=budget.weight_decay, seed=budget.seed)
        return cls(**{**base, **overrides})

    def n_epochs(self, steps_per_epoch: int) -> int:
        """Epochs of the run when an epoch has ``steps_per_epoch`` optimizer steps."""
        return self.epochs or math.ceil(self.steps / max(steps_per_epoch, 1))


class TrainingInterrupted(RuntimeError):
    """Raised by a ``callback`` of :func:`fit` to stop training (the checkpoint is kept)."""


@dataclass
class FitResult:
    """A trained model with its standardization and training history.

    Attributes:
        model: the model holding the best-validation weights, in eval mode.
        history: one dict per evaluation: ``epoch, step, train_loss`` (mean over the epochs
            since the previous evaluation), ``val_mae`` (list per task, original units),
            ``val_score`` (mean over tasks of val MAE / training std), ``lr`` (at the end
            of the epoch), ``seconds`` (since the previous evaluation, validation included).
        best_epoch: epoch (1-based) whose weights were restored.
        epochs, steps: epochs and optimizer steps run (the whole schedule).
        train_seconds: wall time of all epochs, resumed ones included.
        target_mean, target_std: standardization of the targets, shape ``(T,)``.
    """

    model: nn.Module
    history: list[dict]
    best_epoch: int
    epochs: int
    steps: int
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


def _target_stats(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware mean and standard deviation per task (std 1 for a constant task)."""
    counts = np.isfinite(y).sum(axis=0)
    if (counts == 0).any():
        raise ValueError(f"targets {np.flatnonzero(counts == 0).tolist()} have no finite value "
                         f"in the training set")
    std = np.nanstd(y, axis=0)
    return np.nanmean(y, axis=0), np.where(std > 0, std, 1.0)


def _loader(graphs: Sequence, batch_size: int, shuffle: bool, generator=None):
    from torch_geometric.loader import DataLoader

    # A lone one-atom crystal in the last batch would break batch norm in training.
    drop_last = shuffle and len(graphs) % batch_size == 1 and len(graphs) > 1
    return DataLoader(list(graphs), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, drop_last=drop_last)


def _predict_standardized(model: nn.Module, graphs: Sequence, batch_size: int,
                          device) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        outputs = [model(batch.to(device)).double().cpu()
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


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(cache.fingerprint("epoch", seed, epoch, length=15), 16)


def _run_fingerprint(model: nn.Module, config: TrainConfig, loss: str, n_train: int,
                     n_val: int, weighting: nn.Module | None) -> str:
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    return cache.fingerprint(type(model).__name__, shapes, asdict(config), loss, n_train, n_val,
                             type(weighting).__name__ if weighting is not None else None)


def _optimizer_and_schedule(model: nn.Module, weighting: nn.Module | None,
                            config: TrainConfig, total_steps: int):
    """AdamW with the model's parameters and, in their own group, the weighting's; the
    model's rate follows the schedule, the weighting's stays at ``weighting_lr``."""
    groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": config.lr}]
    factors = [lambda step: lr_factor(step, total_steps, config.schedule, config.warmup)]
    weighting_params = list(weighting.parameters()) if weighting is not None else []
    if weighting_params:
        groups.append({"params": weighting_params, "lr": config.weighting_lr,
                       "weight_decay": 0.0})
        factors.append(lambda step: 1.0)
    try:  # one fused kernel for all parameters (6x faster than the loop over tensors)
        optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # torch < 2.4 has no fused AdamW on the CPU
        optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factors)


# ------------------------------------------------------------------------------- fit

def train_epoch(model: nn.Module, loader, optimizer, scheduler, *,
                mean: Tensor, std: Tensor, loss: str = "l1",
                weighting: nn.Module | None = None, grad_clip: float = 0.0,
                device="cpu") -> float:
    """One pass over the training batches: standardize, predict, loss, step.
    Returns the mean training loss (standardized units)."""
    model.train()
    if weighting is not None:
        weighting.train()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    total, count = 0.0, 0
    for batch in loader:
        batch = batch.to(device)
        target = (batch.y.reshape(batch.num_graphs, -1) - mean) / std
        per_task = _per_task_loss(model(batch), target, loss)
        if weighting is not None:
            value = weighting(per_task)
        else:
            value = per_task.mean()
        if not torch.isfinite(value):
            raise FloatingPointError(
                f"the training loss became {value.item()} (NaN/inf); "
                "lower the learning rate or check the inputs")
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        scheduler.step()
        total += value.item() * batch.num_graphs
        count += batch.num_graphs
    return total / max(count, 1)


def fit(model: nn.Module, train: Sequence, val: Sequence, config: TrainConfig, *,
        weighting: nn.Module | None = None, loss: str = "l1",
        checkpoint_dir: str | Path | None = None, progress: bool | None = None,
        callback: Callable[[dict], None] | None = None,
        monitor: Callable[[nn.Module, Callable], dict] | None = None) -> FitResult:
    """Train ``model`` for the whole schedule and return it with its best-validation weights.

    Args:
        model: ``forward(batch) -> (B, T)`` standardized predictions.
        train, val: graphs (PyG ``Data``) with targets ``y`` of shape ``(1, T)``; NaN marks a
            missing target, masked out of the loss and the validation MAE.
        config: optimiser settings and budget.
        weighting: optional module mapping the per-task losses ``(T,)`` to the scalar loss
            (multitask weighting); its parameters are optimised too. Default: the mean.
        loss: ``"l1"`` (MAE, as CGCNN/ALIGNN) or ``"mse"``.
        checkpoint_dir: folder for the training state after every evaluation; a later call
            with the same folder, model and settings resumes from there.
        progress: show a progress bar (default: unless :func:`quiet_progress`).
        callback: called with each history row after its checkpoint is written
            (raise :class:`TrainingInterrupted` there to stop, e.g. in tests).
        monitor: extra measurements at every evaluation (a diagnostic):
            ``monitor(model, evaluate) -> dict``, merged into the history row;
            ``evaluate(other_model)`` scores any model as the row's ``val_mae`` is scored.

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
    mean, std = _target_stats(y_train)
    score_std = std  # epochs are ranked in units of the training std, standardized or not
    if not config.standardize:
        mean, std = np.zeros_like(mean), np.ones_like(std)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device)
    std_t = torch.tensor(std, dtype=torch.float32, device=device)

    model.to(device)
    if weighting is not None:
        weighting.to(device)
    generator = torch.Generator()
    train_loader = _loader(train, config.batch_size, shuffle=True, generator=generator)
    epochs = config.n_epochs(len(train_loader))
    eval_every = math.ceil(epochs / config.max_evaluations)
    optimizer, scheduler = _optimizer_and_schedule(model, weighting, config,
                                                   epochs * len(train_loader))

    state = {"epoch": 0, "history": [], "best_score": math.inf, "best_epoch": 0,
             "best_model": copy.deepcopy(model.state_dict()),
             "best_weighting": weighting.state_dict() if weighting is not None else {},
             "pending_loss": [], "pending_seconds": 0.0}
    run_id = _run_fingerprint(model, config, loss, len(train), len(val), weighting)
    path = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
    if path is not None and path.exists():
        _resume(path, run_id, state, model, optimizer, scheduler, weighting)

    show = (not quiet_progress()) if progress is None else progress
    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, initial=state["epoch"], disable=not show, desc="epochs")
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices), contextlib.closing(bar):
        while state["epoch"] < epochs:
            epoch = state["epoch"] + 1
            start = time.perf_counter()
            generator.manual_seed(_epoch_seed(config.seed, epoch))
            torch.manual_seed(_epoch_seed(config.seed + 1, epoch))
            state["pending_loss"].append(train_epoch(
                model, train_loader, optimizer, scheduler, mean=mean_t, std=std_t, loss=loss,
                weighting=weighting, grad_clip=config.grad_clip, device=device))
            state["epoch"] = epoch
            bar.update(1)
            if epoch % eval_every and epoch != epochs:
                state["pending_seconds"] += time.perf_counter() - start
                continue
            row = _evaluate(model, val, y_val, mean, std, score_std, device)
            if monitor is not None:
                row.update(monitor(model, lambda other: _evaluate(
                    other, val, y_val, mean, std, score_std, device)))
            row = {"epoch": epoch, "step": epoch * len(train_loader),
                   "train_loss": float(np.mean(state["pending_loss"])), **row,
                   "lr": float(optimizer.param_groups[0]["lr"]),
                   "seconds": state["pending_seconds"] + time.perf_counter() - start}
            state["history"].append(row)
            state.update(pending_loss=[], pending_seconds=0.0)
            if row["val_score"] < state["best_score"]:
                state.update(best_score=row["val_score"], best_epoch=epoch,
                             best_model=copy.deepcopy(model.state_dict()),
                             best_weighting=copy.deepcopy(weighting.state_dict())
                             if weighting is not None else {})
            if path is not None:
                _save_checkpoint(path, run_id, state, model, optimizer, scheduler, weighting)
            bar.set_postfix(val_mae=f"{row['val_mae'][0]:.4f}")
            if callback is not None:
                callback(row)

    model.load_state_dict(state["best_model"])
    if weighting is not None:
        weighting.load_state_dict(state["best_weighting"])
    model.eval()
    return FitResult(model=model, history=state["history"], best_epoch=state["best_epoch"],
                     epochs=epochs, steps=epochs * len(train_loader),
                     train_seconds=float(sum(r["seconds"] for r in state["history"])),
                     target_mean=mean, target_std=std, device=str(device),
                     extra={"weighting": weighting} if weighting is not None else {})


def _evaluate(model, val, y_val, mean, std, score_std, device) -> dict:
    """Validation MAE per task (original units) and the score that ranks epochs."""
    pred = _predict_standardized(model, val, 256, device) * std + mean
    val_mae = [float(np.nanmean(np.abs(pred[:, t] - y_val[:, t])))
               if np.isfinite(y_val[:, t]).any() else math.nan
               for t in range(y_val.shape[1])]
    return {"val_mae": val_mae,
            "val_score": float(np.nanmean(np.asarray(val_mae) / score_std))}


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
