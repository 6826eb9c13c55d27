"""The book's running example: the profile's materials with both targets and a fixed split.

The data come from the MP sample shipped with the package unless ``HYBRIDLIB_SOURCE`` (or
the ``source`` argument) asks for Matbench, which needs the network and the ``matbench``
package. Neither choice falls back silently to the other. Introduced in: chapter 5.1.
"""
from __future__ import annotations

import os

import pandas as pd

from ..config import Profile, resolve_profile
from .paths import DataNotFoundError, sample_path
from .sample import load_mp_sample
from .splits import assign_splits, subsample

__all__ = ["SOURCE_ENV", "SOURCES", "data_source", "load_dataset"]

SOURCE_ENV = "HYBRIDLIB_SOURCE"
#: ``sample``: the offline MP sample (default); ``matbench``: Matbench online.
SOURCES = ("sample", "matbench")

_USE_SAMPLE = (f"unset {SOURCE_ENV} (or set it to 'sample') to use the MP sample shipped "
               f"with hybridlib")


def data_source(source: str | None = None) -> str:
    """The data source: ``source``, else ``$HYBRIDLIB_SOURCE``, else ``"sample"``.

    Raises:
        ValueError: the name is not one of :data:`SOURCES`.
    """
    name = source or os.environ.get(SOURCE_ENV) or "sample"
    key = name.strip().lower()
    if key not in SOURCES:
        raise ValueError(f"unknown source {name!r} (from {SOURCE_ENV} or the argument); "
                         f"use one of {list(SOURCES)}")
    return key


def load_dataset(profile: Profile | str | None = None, source: str | None = None) -> pd.DataFrame:
    """The book's running example: materials with both targets and a fixed split.

    Args:
        profile: sizes and seed (default: ``HYBRIDLIB_PROFILE``).
        source: ``"sample"`` (offline MP sample) or ``"matbench"`` (official fold 0 of
            ``matbench_mp_e_form``, band gaps joined from ``matbench_mp_gap`` by structure).
            Default: :func:`data_source`.

    Raises:
        DataNotFoundError: the sample is not where ``HYBRIDLIB_DATA_DIR`` points, or
            Matbench cannot be had (no ``matbench`` package, no network).
    """
    profile = resolve_profile(profile)
    if data_source(source) == "sample":
        df = subsample(load_mp_sample(sample_path()), profile.data.n_materials, profile.seed)
        return assign_splits(df, profile)
    return _matbench_running_example(profile)


def _matbench_running_example(profile: Profile) -> pd.DataFrame:
    from .matbench import matbench_running_example

    try:
        return matbench_running_example(profile)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("matbench"):
            raise
        raise DataNotFoundError(
            f"{SOURCE_ENV}=matbench needs the matbench package (pip install --no-deps "
            f"matbench==0.6) and the network; or {_USE_SAMPLE}") from exc
    except DataNotFoundError:
        raise
    except OSError as exc:  # requests' ConnectionError and urllib's URLError are OSErrors
        raise DataNotFoundError(
            f"{SOURCE_ENV}=matbench needs the network to download matbench_mp_e_form and "
            f"matbench_mp_gap (failed with {type(exc).__name__}); {_USE_SAMPLE}") from exc
