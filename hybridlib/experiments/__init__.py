"""Named experiments of the book, run once and then served from the run registry.

A chapter asks for a result by name::

    run = hl.experiments.run("cgcnn")          # trains, or returns the stored run at once
    run.metrics["e_form"]["mae"], run.predictions

Each experiment is a function ``runner(profile) -> Outcome`` registered with
:func:`register`, together with the ``hybridlib`` modules whose source determines its result
and the experiments it reuses (``requires``). :func:`run` keys the result by the experiment
name, the profile, the data fingerprint, the code version of those modules and the keys of the
required experiments (:mod:`hybridlib.results`), so a changed setting or source file trains
again and an unchanged one never does. A runner that needs another experiment's predictions
calls :func:`run` for it, in the same registry.

Learning curves (chapter 5.1) run any experiment on nested, id-hashed subsets of the
training split: :func:`learning_curve`. :func:`using_frame` runs experiments on another
table (a Matbench fold, :mod:`tools.matbench_run`) through the same code.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib
import pkgutil
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from ..cache import fingerprint
from ..config import Profile
from ..results import (Registry, Run, code_version, data_fingerprint, resolve_profile,
                       run_key)
from ..train import regression_metrics

__all__ = ["Outcome", "Experiment", "Run", "register", "run", "available", "experiment_key",
           "learning_curve", "learning_curve_profiles", "checkpoint_dir", "using_frame", "active_frame", "TRAIN_SIZE_KEY"]

#: Profile.extra key that limits the training split (learning curves).
TRAIN_SIZE_KEY = "train_size"
#: Modules every experiment depends on (added to each experiment's own list).
BASE_MODULES = ("config", "data", "results", "experiments.__init__", "experiments.common")


@dataclass
class Outcome:
    """What a runner returns: predictions (val and test rows), its fitting time, details."""

    predictions: pd.DataFrame
    train_seconds: float
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its runner, source dependencies and required experiments."""

    name: str
    runner: Callable[[Profile], Outcome]
    modules: tuple[str, ...]
    requires: tuple[str, ...]


_EXPERIMENTS: dict[str, Experiment] = {}
_REGISTRY: contextvars.ContextVar[Registry | None] = contextvars.ContextVar(
    "hybridlib_registry", default=None)
_CHECKPOINTS: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "hybridlib_checkpoints", default=None)
_FRAME: contextvars.ContextVar[tuple[pd.DataFrame, tuple[str, ...]] | None] = \
    contextvars.ContextVar("hybridlib_frame", default=None)


@contextlib.contextmanager
def using_frame(df: pd.DataFrame, targets: Iterable[str]):
    """Run experiments on ``df`` (with a ``split`` column) instead of the profile's data set.

    Inside the block, :func:`run` keys runs by a fingerprint of ``df`` (ids, splits, target
    values), runners read ``df`` (:func:`hybridlib.experiments.common.load_frame`), and a
    single-target experiment predicts ``targets[0]``
    (:func:`hybridlib.experiments.common.resolve_targets`).
    """
    missing = {"material_id", "split", *targets} - set(df.columns)
    if missing:
        raise ValueError(f"the table lacks columns {sorted(missing)}")
    token = _FRAME.set((df, tuple(targets)))
    try:
        yield
    finally:
        _FRAME.reset(token)


def active_frame() -> tuple[pd.DataFrame, tuple[str, ...]] | None:
    """``(table, targets)`` set by :func:`using_frame`, or ``None``."""
    return _FRAME.get()


def _data_fingerprint() -> str:
    frame = _FRAME.get()
    if frame is None:
        return data_fingerprint()
    df, targets = frame
    return fingerprint("frame", df["material_id"].astype(str).tolist(), df["split"].tolist(),
                       targets, [df[t].round(8).tolist() for t in targets])


def register(name: str, *, modules: Iterable[str] = (), requires: Iterable[str] = ()):
    """Decorator registering ``runner(profile) -> Outcome`` as experiment ``name``.

    Args:
        name: unique experiment name.
        modules: ``hybridlib`` modules (``"train"``, ``"models.cgcnn"``, ``"graphs"``...) whose
            source determines the result, besides :data:`BASE_MODULES` and the runner's own
            module.
        requires: experiments whose runs this one reads (their keys enter this one's key).
    """
    def decorator(runner: Callable[[Profile], Outcome]) -> Callable[[Profile], Outcome]:
        if name in _EXPERIMENTS and _EXPERIMENTS[name].runner.__qualname__ != runner.__qualname__:
            raise ValueError(f"experiment {name!r} is already registered")
        own = runner.__module__.removeprefix(__name__.rsplit(".", 1)[0] + ".")
        _EXPERIMENTS[name] = Experiment(name, runner,
                                        tuple(sorted({*BASE_MODULES, own, *modules})),
                                        tuple(requires))
        return runner
    return decorator


def _load_all() -> None:
    """Import every experiment module of this package (they register on import)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "common":
            importlib.import_module(f"{__name__}.{info.name}")


def available() -> list[str]:
    """Names of all registered experiments."""
    _load_all()
    return sorted(_EXPERIMENTS)


def _lookup(name: str) -> Experiment:
    if name not in _EXPERIMENTS:
        _load_all()
    if name not in _EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; available: {sorted(_EXPERIMENTS)}")
    return _EXPERIMENTS[name]


def experiment_key(name: str, profile: Profile | str | None = None) -> str:
    """Registry key of experiment ``name`` under ``profile`` (nothing is trained)."""
    experiment = _lookup(name)
    profile = resolve_profile(profile)
    return run_key(name, profile, _data_fingerprint(), code_version(experiment.modules),
                   [experiment_key(r, profile) for r in experiment.requires])


def _metrics(predictions: pd.DataFrame, split: str) -> dict:
    part = predictions[predictions["split"] == split]
    return {c[:-5]: regression_metrics(part[c[:-5]], part[c])
            for c in predictions.columns if c.endswith("_pred") and c[:-5] in predictions
            and len(part)}


def checkpoint_dir() -> Path | None:
    """Checkpoint folder of the run being built (``None`` outside :func:`run`)."""
    return _CHECKPOINTS.get()


def run(name: str, profile: Profile | str | None = None, *,
        registry: Registry | str | Path | None = None) -> Run:
    """Result of experiment ``name`` under ``profile``: stored, or trained now and stored.

    Args:
        name: a name from :func:`available`.
        profile: a profile or its name (default: ``HYBRIDLIB_PROFILE``).
        registry: a :class:`~hybridlib.results.Registry` or its folder (default: the one of
            the enclosing :func:`run` call, else ``cache_dir()/runs``).

    Returns:
        The :class:`~hybridlib.results.Run`; ``run.metrics`` are on the test split,
        ``run.extra["val_metrics"]`` on the validation split.
    """
    experiment = _lookup(name)
    profile = resolve_profile(profile)
    if registry is None:
        registry = _REGISTRY.get() or Registry()
    elif not isinstance(registry, Registry):
        registry = Registry(registry)
    key = experiment_key(name, profile)

    def build() -> Run:
        checkpoints = registry.root / "checkpoints" / f"{name}-{key}"
        tokens = _REGISTRY.set(registry), _CHECKPOINTS.set(checkpoints)
        try:
            outcome = experiment.runner(profile)
        finally:
            _REGISTRY.reset(tokens[0])
            _CHECKPOINTS.reset(tokens[1])
        shutil.rmtree(checkpoints, ignore_errors=True)
        extra = {"val_metrics": _metrics(outcome.predictions, "val"), **outcome.extra}
        return Run(name=name, profile=profile, metrics=_metrics(outcome.predictions, "test"),
                   train_seconds=float(outcome.train_seconds),
                   predictions=outcome.predictions.reset_index(drop=True), extra=extra, key=key)

    return registry.get_or_create(name, key, build)


def learning_curve_profiles(profile: Profile | str | None = None,
                            sizes: Iterable[int] | None = None) -> list[Profile]:
    """Profiles of the learning-curve points: nested training subsets, then the whole split.

    Sizes not smaller than the training split are dropped: the last point is always the
    ordinary run (no size limit), shared with the other chapters.
    """
    from .common import load_frame

    profile = resolve_profile(profile)
    sizes = tuple(sizes) if sizes is not None else profile.learning_curve_sizes
    if any(int(size) < 2 for size in sizes):
        raise ValueError(f"training-set sizes must be at least 2, got {sizes}")
    n_train = int((load_frame(profile)["split"] == "train").sum())
    return [profile.with_(extra={**profile.extra, TRAIN_SIZE_KEY: int(size)})
            for size in sorted(set(sizes)) if int(size) < n_train] + [profile]


def learning_curve(model: str, sizes: Iterable[int] | None = None,
                   profile: Profile | str | None = None, *,
                   registry: Registry | str | Path | None = None) -> pd.DataFrame:
    """Test metrics of experiment ``model`` trained on growing subsets of the training split.

    The subsets are nested: materials are ordered by a seeded hash of their id and the first
    ``n`` are kept (:func:`hybridlib.data.subsample`); validation and test stay whole. The
    curve ends with the whole training split (:func:`learning_curve_profiles`).

    Returns:
        One row per size and target: ``model, train_size, target, mae, rmse, r2,
        train_seconds``.
    """
    rows = []
    for point_profile in learning_curve_profiles(profile, sizes):
        point = run(model, point_profile, registry=registry)
        size = point_profile.extra.get(TRAIN_SIZE_KEY)
        for target, metrics in point.metrics.items():
            rows.append({"model": model, "train_size": point.extra.get("n_train", size),
                         "target": target, **{k: metrics[k] for k in ("mae", "rmse", "r2")},
                         "train_seconds": point.train_seconds})
    return pd.DataFrame(rows).sort_values(["target", "train_size"], ignore_index=True)
