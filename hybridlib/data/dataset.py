"""The book's running example: the profile's materials with both targets and a fixed split.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import os

import pandas as pd

from ..config import Profile, resolve_profile
from .paths import SAMPLE_FILE, data_dir
from .sample import load_mp_sample
from .splits import assign_splits, subsample

__all__ = ["load_dataset"]


def load_dataset(profile: Profile | str | None = None, source: str | None = None) -> pd.DataFrame:
    """The book's running example: materials with both targets and a fixed split.

    Args:
        profile: sizes and seed (default: ``HYBRIDLIB_PROFILE``).
        source: ``"sample"`` (offline MP sample) or ``"matbench"`` (official fold 0 of
            ``matbench_mp_e_form``, band gaps joined from ``matbench_mp_gap`` by structure).
            Default: ``$HYBRIDLIB_SOURCE``, else the sample when it is present, else Matbench.
    """
    profile = resolve_profile(profile)
    source = source or os.environ.get("HYBRIDLIB_SOURCE") or (
        "sample" if (data_dir() / SAMPLE_FILE).is_file() else "matbench")
    if source == "sample":
        df = subsample(load_mp_sample(), profile.data.n_materials, profile.seed)
        return assign_splits(df, profile)
    if source == "matbench":
        from .matbench import matbench_running_example

        return matbench_running_example(profile)
    raise ValueError(f"unknown source {source!r}: use 'sample' or 'matbench'")
