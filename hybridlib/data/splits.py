"""Seeded subsets and train/val/test splits that depend only on each material's id.

Two splits (``profile.data.split``):

* ``"random"``: each material's part follows from a seeded hash of its id.
* ``"formula"``: the part follows from a seeded hash of the material's reduced formula, so
  all polymorphs of one formula land in the same part and the test set holds only formulas
  never seen in training (a harder, composition-level generalisation test). Part sizes are
  close to the fractions asked for, but not exact: a formula's materials move together.

Both are independent of row order and of the other materials: adding or reordering rows
never moves a material between parts. Introduced in: chapter 5.1.
"""
from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache
from typing import Iterable

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from ..config import Profile
from .sample import NO_PAULING_WARNING
from .tables import require_columns

__all__ = ["subsample", "split_ids", "assign_splits", "reduced_formula"]


def _unit_hash(key: str, seed: int, purpose: str) -> float:
    """A uniform number in [0, 1) from (purpose, seed, key); purposes are independent."""
    digest = hashlib.sha256(f"{purpose}:{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def subsample(df: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """Keep ``n`` rows chosen by a seeded hash of ``material_id`` (order-independent).

    Raises:
        ValueError: ``n`` is negative or not an integer.
        DataFormatError: the table has no ``material_id`` column.
    """
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 0):
        raise ValueError(f"n must be a non-negative whole number or None, got {n!r}")
    require_columns(df, ["material_id"], "the table given to subsample")
    if n is None or n >= len(df):
        return df.reset_index(drop=True)
    order = np.argsort([_unit_hash(m, seed, "subsample") for m in df["material_id"]], kind="stable")
    return df.iloc[np.sort(order[:int(n)])].reset_index(drop=True)


def split_ids(ids: Iterable[str], seed: int = 0, val_fraction: float = 0.1,
              test_fraction: float = 0.2, *, groups: Iterable[str] | None = None
              ) -> dict[str, list[str]]:
    """Seeded train/val/test assignment that depends only on each id (or group) and the seed.

    Args:
        ids: material ids.
        seed, val_fraction, test_fraction: the draw and the expected part sizes.
        groups: one key per id (e.g. its reduced formula); ids sharing a key always land in
            the same part. ``None``: every id is its own group.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, ids in input order.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad fractions: val={val_fraction}, test={test_fraction}")
    ids = list(ids)
    keys = ids if groups is None else [f"group:{g}" for g in groups]
    if len(keys) != len(ids):
        raise ValueError(f"groups has {len(keys)} entries for {len(ids)} ids")
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for material_id, key in zip(ids, keys):
        u = _unit_hash(key, seed, "split")
        part = "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
        parts[part].append(material_id)
    return parts


@lru_cache(maxsize=None)
def reduced_formula(formula: str) -> str:
    """pymatgen's reduced formula of a formula string (``"Fe4O6"`` -> ``"Fe2O3"``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NO_PAULING_WARNING, category=UserWarning)
        return Composition(formula).reduced_formula


def assign_splits(df: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """A copy of ``df`` with a ``split`` column (train/val/test) by ``profile.data.split``.

    ``"formula"`` groups the materials by the reduced formula of their ``formula`` column.
    """
    grouped = profile.data.split == "formula"
    require_columns(df, ["material_id", "formula"] if grouped else ["material_id"],
                    "the table given to assign_splits")
    groups = [reduced_formula(f) for f in df["formula"]] if grouped else None
    parts = split_ids(df["material_id"], profile.seed, profile.data.val_fraction,
                      profile.data.test_fraction, groups=groups)
    where = {m: part for part, ids in parts.items() for m in ids}
    df = df.copy()
    df["split"] = df["material_id"].map(where)
    return df
