"""Shared fixtures: the real offline MP sample, loaded once per test session."""
from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("HYBRIDLIB_PROFILE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def mp_sample():
    """The whole shared MP sample (10,200 real materials) as hl.data.load_mp_sample() returns it."""
    import hybridlib as hl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hl.data.load_mp_sample()


@pytest.fixture(scope="session")
def mp_small(mp_sample):
    """A fixed, id-hashed subset of 300 real materials (fast unit tests)."""
    import hybridlib as hl

    return hl.data.subsample(mp_sample, 300, seed=0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test writes caches and registry entries into its own temporary folder."""
    monkeypatch.setenv("HYBRIDLIB_CACHE_DIR", str(tmp_path / "cache"))
