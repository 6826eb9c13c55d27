"""Seeded subsets and train/val/test splits that depend only on each material's id.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np
import pandas as pd

from ..config import Profile

__all__ = ["subsample", "split_ids", "assign_splits"]


def _unit_hash(key: str, seed: int, purpose: str) -> float:
    """A uniform number in [0, 1) from (purpose, seed, key); purposes are independent."""
    digest = hashlib.sha256(f"{purpose}:{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def subsample(df: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """Keep ``n`` rows chosen by a seeded hash of ``material_id`` (order-independent)."""
    if n is None or n >= len(df):
        return df.reset_index(drop=True)
    order = np.argsort([_unit_hash(m, seed, "subsample") for m in df["material_id"]], kind="stable")
    return df.iloc[np.sort(order[:n])].reset_index(drop=True)


def split_ids(ids: Iterable[str], seed: int = 0, val_fraction: float = 0.1,
              test_fraction: float = 0.2) -> dict[str, list[str]]:
    """Seeded train/val/test assignment that depends only on each id and the seed.

    The same id always lands in the same part, whatever the row order or the other ids,
    so adding or reordering rows never moves a material between parts.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad fractions: val={val_fraction}, test={test_fraction}")
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for material_id in ids:
        u = _unit_hash(material_id, seed, "split")
        part = "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
        parts[part].append(material_id)
    return parts


def assign_splits(df: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Add a ``split`` column (train/val/test) from :func:`split_ids`."""
    parts = split_ids(df["material_id"], profile.seed, profile.data.val_fraction,
                      profile.data.test_fraction)
    where = {m: part for part, ids in parts.items() for m in ids}
    df = df.copy()
    df["split"] = df["material_id"].map(where)
    return df
