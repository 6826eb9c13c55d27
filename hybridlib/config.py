"""Run profiles (``ci``, ``book``, ``full``): every size, budget and seed in one place.

A :class:`Profile` is made of typed parts: :class:`DataConfig` (which materials, which
split), :class:`GraphParams` (how crystal graphs are built), :class:`ModelConfig` (model
sizes) and :class:`TrainingConfig` (the optimiser budget). ``HYBRIDLIB_PROFILE`` picks the
profile. Without it a chapter opened in JupyterLab or Colab runs the quick ``ci`` profile, so
it finishes in minutes; ``make book`` sets ``book`` for the rendered book. :func:`resolve_profile`
is the one place that turns "a profile, its name or nothing" into a profile.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .constants import CUTOFF, MAX_NEIGHBORS

__all__ = ["DataConfig", "GraphParams", "ModelConfig", "TrainingConfig", "Profile",
           "PROFILES", "PROFILE_ENV", "get_profile", "resolve_profile"]

PROFILE_ENV = "HYBRIDLIB_PROFILE"
#: The profile of a run that names none: quick, so an interactive session finishes in minutes.
DEFAULT_PROFILE = "ci"
SPLITS = ("random", "formula")


@dataclass(frozen=True)
class DataConfig:
    """Which materials a run sees and how they are split.

    Attributes:
        n_materials: materials drawn from the data set (``None``: all of them).
        val_fraction, test_fraction: split fractions (offline sample only; Matbench
            uses its official test fold and splits validation off the training part).
        split: ``"random"`` (each id hashed on its own) or ``"formula"`` (all materials
            of one reduced formula land in the same part).
        train_size: keep only this many training materials (learning curves); ``None``:
            the whole training split.
    """

    n_materials: int | None
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split: str = "random"
    train_size: int | None = None

    def __post_init__(self) -> None:
        if self.n_materials is not None and self.n_materials < 3:
            raise ValueError(f"n_materials must be at least 3 (or None), got {self.n_materials}")
        if not (0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise ValueError(f"bad split fractions: val={self.val_fraction}, "
                             f"test={self.test_fraction}")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose one of {SPLITS}")
        if self.train_size is not None and self.train_size < 2:
            raise ValueError(f"train_size must be at least 2 (or None), got {self.train_size}")


@dataclass(frozen=True)
class GraphParams:
    """How crystal graphs are built (rules in :mod:`hybridlib.graphs`).

    Attributes:
        cutoff: neighbour search radius (Å); CGCNN uses 8.
        max_neighbors: neighbours per centre atom (ties at the last one kept); CGCNN: 12.
        max_cutoff: largest radius tried for structures with isolated atoms (Å).
        cutoff_growth: factor applied to the radius while some atom is isolated.
        tie_tol: distances within this of the k-th nearest count as ties (Å).
        backtracking: keep line-graph pairs of a bond with its exact reverse.
        undirected: add the reverse of every edge that lacks one (ALIGNN's reference
            builds undirected graphs; CGCNN's neighbour lists are directed).
    """

    cutoff: float = CUTOFF
    max_neighbors: int = MAX_NEIGHBORS
    max_cutoff: float = 16.0
    cutoff_growth: float = 1.5
    tie_tol: float = 1e-6
    backtracking: bool = True
    undirected: bool = False

    def __post_init__(self):
        if not 0 < self.cutoff <= self.max_cutoff:
            raise ValueError(f"need 0 < cutoff <= max_cutoff, got {self.cutoff}, {self.max_cutoff}")
        if self.max_neighbors < 1:
            raise ValueError(f"max_neighbors must be >= 1, got {self.max_neighbors}")
        if self.cutoff_growth <= 1:
            raise ValueError(f"cutoff_growth must be > 1, got {self.cutoff_growth}")


@dataclass(frozen=True)
class ModelConfig:
    """Model sizes.

    Attributes:
        hidden: width of graph models; ``n_conv``: message-passing layers (MEGNet: blocks).
        alignn_layers, gcn_layers: ALIGNN layer counts (paper: 4 and 4).
        rf_trees, rf_depth: random-forest size (the seed's 100 trees, depth 30).
    """

    hidden: int
    n_conv: int
    alignn_layers: int
    gcn_layers: int
    rf_trees: int = 100
    rf_depth: int = 30


@dataclass(frozen=True)
class TrainingConfig:
    """The optimiser budget every torch model of a profile shares.

    Attributes:
        steps: optimizer steps of every run, whatever the training-set size (rounded up
            to whole epochs); the learning-rate schedule always runs to its end.
        batch_size, lr, weight_decay: AdamW settings (``lr`` is the schedule's peak).
        seed: the models' seed (initialisation, shuffling, dropout, forests); the data
            (subsample, split) follow :attr:`Profile.seed`, so runs that differ only in
            this seed see the same split (seed-to-seed spread, chapter 5.6).
    """

    steps: int
    batch_size: int
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size) < 1 or not self.lr > 0:
            raise ValueError(f"steps and batch_size must be >= 1 and lr > 0: {self}")


_PARTS = {"data": DataConfig, "graph": GraphParams, "model": ModelConfig,
          "training": TrainingConfig}


@dataclass(frozen=True)
class Profile:
    """Sizes and training budget of one kind of run.

    Attributes:
        name: profile name.
        data, graph, model, training: the typed parts (see their classes).
        learning_curve_sizes: training-set sizes of the chapter 5.1 learning curve (the whole
            training split is always added as the last point).
        seed: the seed of the data: which materials (subsample) and which split; the
            models' seed is ``training.seed``.
    """

    name: str
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig
    graph: GraphParams = field(default_factory=GraphParams)
    learning_curve_sizes: tuple[int, ...] = ()
    seed: int = 0

    def as_dict(self) -> dict:
        """Plain, nested dict view (for run-registry keys and printing)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Profile":
        """Inverse of :meth:`as_dict`."""
        values = dict(values)
        for part, kind in _PARTS.items():
            values[part] = kind(**values[part])
        values["learning_curve_sizes"] = tuple(values.get("learning_curve_sizes", ()))
        return cls(**values)

    def with_(self, **changes: Any) -> "Profile":
        """A copy with some fields changed.

        A part takes a dict of its own fields, merged into the current values::

            profile.with_(seed=1, training={"steps": 300}, data={"train_size": 250})
        """
        for part in set(changes) & set(_PARTS):
            if isinstance(changes[part], dict):
                changes[part] = replace(getattr(self, part), **changes[part])
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    # The whole book in minutes on 2 CPU cores (CI, nbval, Colab default).
    "ci": Profile(
        name="ci", data=DataConfig(n_materials=1000),
        model=ModelConfig(hidden=64, n_conv=3, alignn_layers=2, gcn_layers=2),
        training=TrainingConfig(steps=150, batch_size=64, lr=6e-3),
        learning_curve_sizes=(100, 250, 500),
    ),
    # The rendered book: 8,000 materials of the offline sample.
    "book": Profile(
        name="book", data=DataConfig(n_materials=8000),
        model=ModelConfig(hidden=64, n_conv=3, alignn_layers=2, gcn_layers=2),
        training=TrainingConfig(steps=2000, batch_size=64, lr=6e-3),
        learning_curve_sizes=(250, 500, 1000, 2000),
    ),
    # Real Matbench folds on a GPU; ALIGNN at its published size.
    "full": Profile(
        name="full", data=DataConfig(n_materials=None),
        model=ModelConfig(hidden=256, n_conv=4, alignn_layers=4, gcn_layers=4),
        training=TrainingConfig(steps=400_000, batch_size=64),
        learning_curve_sizes=(1000, 5000, 20000, 80000),
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """Return the profile called ``name``, else the one ``HYBRIDLIB_PROFILE`` names, else ``ci``.

    Raises:
        ValueError: the name is not one of ``ci``, ``book``, ``full``.
    """
    name = name or os.environ.get(PROFILE_ENV, DEFAULT_PROFILE)
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from {PROFILE_ENV} or the argument); "
            f"choose one of {sorted(PROFILES)}"
        )
    return PROFILES[key]


def resolve_profile(profile: Profile | str | None = None) -> Profile:
    """A :class:`Profile` from a profile, its name or ``None`` (then ``HYBRIDLIB_PROFILE``)."""
    if isinstance(profile, Profile):
        return profile
    if profile is None or isinstance(profile, str):
        return get_profile(profile)
    raise TypeError(f"expected a Profile, a profile name or None, got {type(profile).__name__}")

