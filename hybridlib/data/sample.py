"""The offline Materials Project sample (MP-20 crystals with formation energy and band gap).

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from .paths import (DATA_ENV, SAMPLE_FILE, DataFormatError, DataNotFoundError,
                    EmptyDatasetError, data_dir, read_json_gz)

__all__ = ["TARGETS", "NO_PAULING_WARNING", "load_mp_sample", "clean_targets",
           "parse_structures", "add_descriptors"]

TARGETS = ("e_form", "band_gap")
NO_PAULING_WARNING = "No Pauling electronegativity"  # pymatgen warns for He, Ar, ... (sorting formulas)


def parse_structures(records: list, path: Path) -> list[Structure]:
    structures = []
    for record in records:
        try:
            structures.append(Structure.from_dict(record["structure"]))
        except Exception as exc:  # pymatgen raises many types for a bad dict
            raise DataFormatError(
                f"{path}: the structure of {record.get('material_id', '<no material_id>')!r} "
                f"does not parse ({type(exc).__name__}: {exc})"
            ) from exc
    return structures


def clean_targets(df: pd.DataFrame, targets: Iterable[str], *, strict: bool = False,
                  how: str = "any") -> pd.DataFrame:
    """Drop rows whose targets are missing, NaN or infinite, with a counted warning.

    Args:
        df: table with the target columns.
        targets: columns to check.
        strict: raise instead of dropping.
        how: ``"any"`` drops a row when any target is bad, ``"all"`` only when all are.

    Raises:
        DataFormatError: a bad target and ``strict=True``.
        EmptyDatasetError: no row is left.
    """
    targets = list(targets)
    values = df[targets].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    drop = bad.any(axis=1) if how == "any" else bad.all(axis=1)
    if drop.any():
        counts = {t: int(bad[:, i].sum()) for i, t in enumerate(targets) if bad[:, i].any()}
        examples = df.loc[drop, "material_id"].head(3).tolist()
        message = (f"{int(drop.sum())} of {len(df)} rows have missing/NaN/inf targets "
                   f"{counts} (e.g. {examples})")
        if strict:
            raise DataFormatError(message)
        warnings.warn(message + "; they are dropped", stacklevel=2)
        df = df.loc[~drop].reset_index(drop=True)
    if df.empty:
        raise EmptyDatasetError(f"no rows left after dropping bad targets {targets}")
    return df


def load_mp_sample(path: str | Path | None = None, *, strict: bool = False) -> pd.DataFrame:
    """Load the offline MP sample as a table.

    Args:
        path: the ``.json.gz`` file; default ``data_dir() / SAMPLE_FILE``.
        strict: raise on bad targets instead of dropping them with a warning.

    Returns:
        DataFrame with ``material_id, formula, structure, e_form, band_gap, n_sites,
        n_elements``, one row per material, in file order.
    """
    path = Path(path) if path is not None else data_dir() / SAMPLE_FILE
    if not path.is_file():
        raise DataNotFoundError(
            f"offline sample not found: {path}. ${DATA_ENV} is "
            f"{os.environ.get(DATA_ENV)!r}; unset it to read the copy shipped with the "
            f"package, or point it at a folder holding {SAMPLE_FILE}."
        )
    records = read_json_gz(path)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFormatError(f"{path}: expected a JSON list of records")
    required = {"material_id", "structure", *TARGETS}
    for record in records:
        missing = required - record.keys()
        if missing:
            raise DataFormatError(
                f"{path}: record {record.get('material_id', '<no material_id>')!r} lacks "
                f"{sorted(missing)}")
    ids = [r["material_id"] for r in records]
    if len(set(ids)) != len(ids):
        raise DataFormatError(f"{path}: material_id values are not unique")
    df = pd.DataFrame({
        "material_id": ids,
        **{t: [r[t] if r[t] is not None else math.nan for r in records] for t in TARGETS},
    })
    df = clean_targets(df, TARGETS, strict=strict)
    keep = set(df["material_id"])
    records = [r for r in records if r["material_id"] in keep]
    structures = parse_structures(records, path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NO_PAULING_WARNING, category=UserWarning)
        df.insert(1, "formula", [s.composition.reduced_formula for s in structures])
    df.insert(2, "structure", structures)
    return add_descriptors(df)


def add_descriptors(df: pd.DataFrame) -> pd.DataFrame:
    df["n_sites"] = [len(s) for s in df["structure"]]
    df["n_elements"] = [len(s.composition.elements) for s in df["structure"]]
    return df
