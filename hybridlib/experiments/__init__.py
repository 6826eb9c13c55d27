"""Named experiments of the book, run once and then served from the run registry.

A chapter asks for a result by name::

    run = hl.experiments.run("cgcnn")          # trains, or returns the stored run at once
    run.metrics["e_form"]["mae"], run.predictions

Each experiment is a function ``runner(ctx: RunContext) -> Outcome`` registered with
:func:`register`. Everything that may change its result reaches it through the
:class:`RunContext`: the profile, the registry it reads other runs from, its checkpoint
folder and, for Matbench folds, the table that replaces the profile's data set. :func:`run`
keys the result by the experiment name, the profile, the data fingerprint, the version of
the source the runner's module imports (followed through every ``hybridlib`` import,
:func:`hybridlib.results.source_modules`) and the keys of the required experiments, so a
changed setting or source file trains again and an unchanged one never does.

Learning curves (chapter 5.1) run any experiment on nested, id-hashed subsets of the
training split (``profile.data.train_size``): :func:`learning_curve`. The same run with
another model seed (same data, same split) is ``run(name, p)`` for ``p`` in
:func:`seed_profiles`; on the formula-grouped split, :func:`grouped_split_profile`.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import importlib
import pkgutil
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd

from ..cache import fingerprint
from ..config import Profile, resolve_profile
from ..results import Registry, Run, code_version, data_fingerprint, run_key, source_modules
from ..train import regression_metrics
from ..weights import ModelWeights

__all__ = ["Outcome", "Experiment", "Frame", "RunContext", "Run", "register", "run",
           "available", "experiment_key", "learning_curve", "learning_curve_profiles",
           "seed_profiles", "grouped_split_profile"]


@dataclass
class Outcome:
    """What a runner returns: predictions (val and test rows), its fitting time, details,
    and the trained model as arrays (:mod:`hybridlib.weights`; stored beside the run)."""

    predictions: pd.DataFrame
    train_seconds: float
    extra: dict = field(default_factory=dict)
    weights: ModelWeights | None = None


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its runner, source modules and required experiments."""

    name: str
    runner: Callable[["RunContext"], Outcome]
    modules: tuple[str, ...]
    requires: tuple[str, ...]


@dataclass(frozen=True)
class Frame:
    """A table (with a ``split`` column) that replaces the profile's data set, and its targets.

    A single-target experiment run on a frame predicts ``targets[0]`` (CGCNN on
    ``matbench_mp_gap`` predicts the band gap).
    """

    table: pd.DataFrame
    targets: tuple[str, ...]

    def __post_init__(self) -> None:
        missing = {"material_id", "split", *self.targets} - set(self.table.columns)
        if missing:
            raise ValueError(f"the table lacks columns {sorted(missing)}")

    def fingerprint(self) -> str:
        """Hash of the ids, splits and target values."""
        df = self.table
        return fingerprint("frame", df["material_id"].astype(str).tolist(), df["split"].tolist(),
                           self.targets, [df[t].round(8).tolist() for t in self.targets])


@dataclass(frozen=True)
class RunContext:
    """Everything a runner may depend on, passed explicitly.

    Attributes:
        name: the experiment being built.
        profile: sizes, budget and seed.
        registry: where this run and the runs it reads live.
        checkpoints: folder for training checkpoints of this run (removed when it is stored).
        frame: a table replacing the profile's data set (Matbench folds), or ``None``.
    """

    name: str
    profile: Profile
    registry: Registry
    checkpoints: Path
    frame: Frame | None = None

    def run(self, name: str, profile: Profile | None = None) -> Run:
        """Another experiment's run in the same registry and on the same data."""
        return run(name, profile or self.profile, registry=self.registry, frame=self.frame)

    def targets(self, targets: Sequence[str]) -> tuple[str, ...]:
        """The targets the runner predicts: its own, or the frame's.

        Raises:
            ValueError: a multi-target experiment on a frame lacking some of its targets.
        """
        if self.frame is None or set(targets) <= set(self.frame.targets):
            return tuple(targets)
        if len(targets) == 1 and len(self.frame.targets) == 1:
            return self.frame.targets
        raise ValueError(f"{self.name} predicts {list(targets)}, but the table provides only "
                         f"{list(self.frame.targets)}")

    def table(self) -> pd.DataFrame:
        """The data the run trains on: the frame, else the profile's data set; the training
        split limited to ``profile.data.train_size`` materials when that is set.

        Raises:
            ValueError: the requested training size exceeds the training split.
        """
        from ..data import load_dataset, subsample

        df = load_dataset(self.profile) if self.frame is None else self.frame.table
        size = self.profile.data.train_size
        if size is None:
            return df
        train = df[df["split"] == "train"]
        if size > len(train):
            raise ValueError(f"train_size={size} exceeds the {len(train)} training materials "
                             f"of profile {self.profile.name!r}")
        keep = set(subsample(train, size, self.profile.seed)["material_id"])
        return df[(df["split"] != "train") | df["material_id"].isin(keep)].reset_index(drop=True)


_EXPERIMENTS: dict[str, Experiment] = {}


def register(name: str, *, requires: Iterable[str] = ()):
    """Decorator registering ``runner(ctx) -> Outcome`` as experiment ``name``.

    Args:
        name: unique experiment name.
        requires: experiments whose runs this one reads (their keys enter this one's key).

    The source the run depends on is found from the runner's module and everything it
    imports from ``hybridlib`` (:func:`hybridlib.results.source_modules`).
    """
    def decorator(runner: Callable[[RunContext], Outcome]) -> Callable[[RunContext], Outcome]:
        if name in _EXPERIMENTS and _EXPERIMENTS[name].runner.__qualname__ != runner.__qualname__:
            raise ValueError(f"experiment {name!r} is already registered")
        _EXPERIMENTS[name] = Experiment(name, runner, source_modules(runner.__module__),
                                        tuple(requires))
        return runner
    return decorator


def _load_all() -> None:
    """Import every experiment module of this package (they register on import)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name not in ("common", "warmup", "__main__"):
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


def experiment_key(name: str, profile: Profile | str | None = None, *,
                   frame: Frame | None = None) -> str:
    """Registry key of experiment ``name`` under ``profile`` (nothing is trained)."""
    experiment = _lookup(name)
    profile = resolve_profile(profile)
    data = data_fingerprint() if frame is None else frame.fingerprint()
    return run_key(name, profile, data, code_version(experiment.modules),
                   [experiment_key(r, profile, frame=frame) for r in experiment.requires])


def _metrics(predictions: pd.DataFrame, split: str) -> dict:
    part = predictions[predictions["split"] == split]
    return {c[:-5]: regression_metrics(part[c[:-5]], part[c])
            for c in predictions.columns if c.endswith("_pred") and c[:-5] in predictions
            and len(part)}


def run(name: str, profile: Profile | str | None = None, *,
        registry: Registry | str | Path | None = None, frame: Frame | None = None) -> Run:
    """Result of experiment ``name`` under ``profile``: stored, or trained now and stored.

    Args:
        name: a name from :func:`available`.
        profile: a profile or its name (default: ``HYBRIDLIB_PROFILE``).
        registry: a :class:`~hybridlib.results.Registry` or its folder (default:
            ``cache_dir()/runs``).
        frame: a table replacing the profile's data set (e.g. a Matbench fold).

    Returns:
        The :class:`~hybridlib.results.Run`; ``run.metrics`` are on the test split,
        ``run.extra["val_metrics"]`` on the validation split.
    """
    experiment = _lookup(name)
    profile = resolve_profile(profile)
    if not isinstance(registry, Registry):
        registry = Registry(registry)
    key = experiment_key(name, profile, frame=frame)

    def build() -> Run:
        context = RunContext(name, profile, registry,
                             registry.root / "checkpoints" / f"{name}-{key}", frame)
        outcome = experiment.runner(context)
        shutil.rmtree(context.checkpoints, ignore_errors=True)
        if outcome.weights is not None:
            registry.save_weights(name, key, outcome.weights.arrays, outcome.weights.meta)
        extra = {"val_metrics": _metrics(outcome.predictions, "val"), **outcome.extra}
        return Run(name=name, profile=profile, metrics=_metrics(outcome.predictions, "test"),
                   train_seconds=float(outcome.train_seconds),
                   predictions=outcome.predictions.reset_index(drop=True), extra=extra, key=key)

    return registry.get_or_create(name, key, build, profile=profile)


def learning_curve_profiles(profile: Profile | str | None = None,
                            sizes: Iterable[int] | None = None) -> list[Profile]:
    """Profiles of the learning-curve points: nested training subsets, then the whole split.

    Sizes not smaller than the training split are dropped: the last point is always the
    ordinary run (no size limit), shared with the other chapters.
    """
    from ..data import load_dataset

    profile = resolve_profile(profile)
    sizes = tuple(sizes) if sizes is not None else profile.learning_curve_sizes
    if any(int(size) < 2 for size in sizes):
        raise ValueError(f"training-set sizes must be at least 2, got {sizes}")
    n_train = int((load_dataset(profile)["split"] == "train").sum())
    return [profile.with_(data={"train_size": int(size)})
            for size in sorted(set(sizes)) if int(size) < n_train] + [profile]


def seed_profiles(profile: Profile | str | None = None,
                  seeds: Iterable[int] | None = None) -> list[Profile]:
    """The profile and its copies with other model seeds (``training.seed``), same data.

    Args:
        seeds: model seeds besides the profile's own (default:
            :data:`hybridlib.experiments.warmup.SEEDS`, the ones the warm-up trains).
    """
    if seeds is None:
        from .warmup import SEEDS as seeds
    profile = resolve_profile(profile)
    return [profile] + [profile.with_(training={"seed": int(s)}) for s in seeds
                        if int(s) != profile.training.seed]


def grouped_split_profile(profile: Profile | str | None = None) -> Profile:
    """The profile with the formula-grouped split (all polymorphs of a formula on one side)."""
    return resolve_profile(profile).with_(data={"split": "formula"})


def learning_curve(model: str, sizes: Iterable[int] | None = None,
                   profile: Profile | str | None = None, *,
                   registry: Registry | str | Path | None = None) -> pd.DataFrame:
    """Test metrics of experiment ``model`` trained on growing subsets of the training split.

    The subsets are nested: materials are ordered by a seeded hash of their id and the first
    ``n`` are kept (:func:`hybridlib.data.subsample`); validation and test stay whole. The
    curve ends with the whole training split (:func:`learning_curve_profiles`).

    Every point of a torch model trains for the profile's optimizer-step budget
    (``profile.training.steps``): smaller training sets run more epochs, never fewer steps.

    Returns:
        One row per size and target: ``model, train_size, target, mae, rmse, r2,
        train_seconds, epochs_run, best_epoch`` (the last two NaN for forests).
    """
    rows = []
    for point_profile in learning_curve_profiles(profile, sizes):
        point = run(model, point_profile, registry=registry)
        for target, metrics in point.metrics.items():
            rows.append({"model": model,
                         "train_size": point.extra.get("n_train", point_profile.data.train_size),
                         "target": target, **{k: metrics[k] for k in ("mae", "rmse", "r2")},
                         "train_seconds": point.train_seconds,
                         "epochs_run": point.extra.get("epochs_run", float("nan")),
                         "best_epoch": point.extra.get("best_epoch", float("nan"))})
    return pd.DataFrame(rows).sort_values(["target", "train_size"], ignore_index=True)
