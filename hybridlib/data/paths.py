"""Where the data and caches live, and the errors raised when data cannot be read.

The offline MP sample ships inside the package (``hybridlib/data/files``), so every reader
(Colab, Binder, a laptop, CI) reads the same real data offline; ``HYBRIDLIB_DATA_DIR``
points elsewhere. Introduced in: chapter 5.1.
"""
from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path
from typing import Iterable

__all__ = ["DataNotFoundError", "DataFormatError", "EmptyDatasetError", "SAMPLE_FILE",
           "PACKAGED_DATA_DIR", "DATA_ENV", "CACHE_ENV", "data_dir", "sample_path", "cache_dir",
           "read_json_gz", "read_records"]

SAMPLE_FILE = "mp_hybrid_sample.json.gz"
DATA_ENV, CACHE_ENV = "HYBRIDLIB_DATA_DIR", "HYBRIDLIB_CACHE_DIR"
#: The folder of the data files shipped with the package.
PACKAGED_DATA_DIR = Path(__file__).resolve().parent / "files"


class DataNotFoundError(FileNotFoundError):
    """The offline data could not be found where it is looked for."""


class DataFormatError(ValueError):
    """A data or cache file exists but cannot be read (truncated, corrupted, wrong schema)."""


class EmptyDatasetError(ValueError):
    """Nothing is left after filtering."""


def data_dir() -> Path:
    """Folder holding the offline sample: ``$HYBRIDLIB_DATA_DIR``, else the packaged copy."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else PACKAGED_DATA_DIR


def sample_path() -> Path:
    """The offline sample file in :func:`data_dir`.

    Raises:
        DataNotFoundError: it is not there; the message names the folder looked in.
    """
    folder = data_dir()
    path = folder / SAMPLE_FILE
    if path.is_file():
        return path
    env = os.environ.get(DATA_ENV)
    if env:
        raise DataNotFoundError(
            f"offline sample not found: no {SAMPLE_FILE} in {folder} (${DATA_ENV}={env!r}); "
            f"unset {DATA_ENV} to read the copy shipped with the package, or point it at a "
            f"folder holding {SAMPLE_FILE}")
    raise DataNotFoundError(
        f"the sample shipped with the package is missing from {folder}: reinstall hybridlib, "
        f"or set {DATA_ENV} to a folder holding {SAMPLE_FILE}")


def cache_dir() -> Path:
    """Folder for caches and the run registry: ``$HYBRIDLIB_CACHE_DIR`` or ``~/.cache/hybridlib``."""
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "hybridlib"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise NotADirectoryError(
            f"the cache folder {path} (${CACHE_ENV}) is a file or lies under one; point "
            f"{CACHE_ENV} at a folder") from exc
    return path


def read_json_gz(path: Path) -> list:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(
            f"cannot read {path}: the file is truncated or corrupted ({type(exc).__name__}: "
            f"{exc}); restore it from its source (its README gives the sha256)"
        ) from exc


def read_records(path: Path, required: Iterable[str]) -> list[dict]:
    """The records of a ``.json.gz`` data file: a list of dicts, each with every ``required``
    key and a unique ``material_id``.

    Raises:
        DataFormatError: the file is unreadable, not a list of records, a record lacks a
            required key (named with its ``material_id``), or an id repeats.
    """
    records = read_json_gz(path)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFormatError(f"{path}: expected a JSON list of records")
    required = {"material_id", *required}
    for record in records:
        missing = required - record.keys()
        if missing:
            raise DataFormatError(
                f"{path}: record {record.get('material_id', '<no material_id>')!r} lacks "
                f"{sorted(missing)}")
    ids = [str(r["material_id"]) for r in records]
    if len(set(ids)) != len(ids):
        raise DataFormatError(f"{path}: material_id values are not unique")
    return records
