"""Run profiles (``ci``, ``book``, ``full``): every size, epoch count and seed in one place.

``HYBRIDLIB_PROFILE`` picks the profile (default ``book``; the test command sets ``ci``).
Introduced in: chapter 5.1.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace

__all__ = ["Profile", "PROFILES", "get_profile", "PROFILE_ENV"]

PROFILE_ENV = "HYBRIDLIB_PROFILE"
DEFAULT_PROFILE = "book"


@dataclass(frozen=True)
class Profile:
    """Sizes and training budget of one kind of run.

    Attributes:
        name: profile name.
        n_materials: materials drawn from the data set (``None``: all of them).
        val_fraction, test_fraction: split fractions (offline sample only; Matbench
            uses its official test fold and splits validation off the training part).
        epochs, patience: training budget and early-stopping patience (on validation).
        batch_size, lr, weight_decay: optimiser settings shared by every torch model.
        hidden: width of graph models; ``n_conv``: message-passing layers.
        alignn_layers, gcn_layers: ALIGNN layer counts (paper: 4 and 4).
        rf_trees, rf_depth: random-forest size (the seed's 100 trees, depth 30).
        learning_curve_sizes: training-set sizes of the chapter 5.1 learning curve (the whole
            training split is always added as the last point).
        seed: the one seed every split, subsample and model draws from.
    """

    name: str
    n_materials: int | None
    epochs: int
    patience: int
    batch_size: int
    hidden: int
    n_conv: int
    alignn_layers: int
    gcn_layers: int
    learning_curve_sizes: tuple[int, ...]
    lr: float = 1e-3
    weight_decay: float = 1e-5
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    rf_trees: int = 100
    rf_depth: int = 30
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain-dict view (for run-registry keys and printing)."""
        return asdict(self)

    def with_(self, **changes) -> "Profile":
        """A copy with some fields changed (e.g. ``profile.with_(epochs=3)``)."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    # The whole book in minutes on 2 CPU cores (CI, nbval, Colab default).
    "ci": Profile(
        name="ci", n_materials=1000, epochs=10, patience=5, batch_size=64,
        hidden=64, n_conv=3, alignn_layers=2, gcn_layers=2,
        learning_curve_sizes=(100, 250, 500),
    ),
    # The rendered book: 8,000 materials of the offline sample, about 40 minutes on 2 cores
    # (ALIGNN alone costs ~9 ms per graph and epoch on one core: see the issue notes).
    "book": Profile(
        name="book", n_materials=8000, epochs=20, patience=6, batch_size=64,
        hidden=64, n_conv=3, alignn_layers=2, gcn_layers=2,
        learning_curve_sizes=(250, 500, 1000, 2000),
    ),
    # Real Matbench folds on a GPU; ALIGNN at its published size.
    "full": Profile(
        name="full", n_materials=None, epochs=300, patience=40, batch_size=64,
        hidden=256, n_conv=4, alignn_layers=4, gcn_layers=4,
        learning_curve_sizes=(1000, 5000, 20000, 80000),
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """Return the profile called ``name``, else the one ``HYBRIDLIB_PROFILE`` names.

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
