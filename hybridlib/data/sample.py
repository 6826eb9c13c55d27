"""The offline Materials Project sample (MP-20 crystals with formation energy and band gap).

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from .paths import (DataFormatError, DataNotFoundError, EmptyDatasetError, read_records,
                    sample_path)
from .tables import require_columns

__all__ = ["TARGETS", "TARGET_RANGES", "NO_PAULING_WARNING", "load_mp_sample", "clean_targets",
           "parse_structures", "add_descriptors"]

TARGETS = ("e_form", "band_gap")
#: Values each known target can take (formation energy in eV/atom, band gap in eV), bounds
#: included. Materials Project formation energies lie within about -4.5..+4 eV/atom and its
#: PBE band gaps within 0..18 eV; the bounds leave a wide margin.
TARGET_RANGES = {"e_form": (-10.0, 10.0), "band_gap": (0.0, 50.0)}
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
    """Drop rows whose targets are missing, NaN, infinite or physically impossible.

    A value of a known target outside :data:`TARGET_RANGES` (a negative band gap, a formation
    energy of 1e30 eV/atom) comes from a broken file or wrong units, never from a material:
    it is treated as missing. The warning (or, with ``strict``, the error) counts the bad
    values per target and names materials holding them.

    Args:
        df: table with ``material_id`` and the target columns.
        targets: columns to check.
        strict: raise instead of dropping.
        how: ``"any"`` drops a row when any target is bad, ``"all"`` only when all are (the
            impossible values of the rows kept become NaN).

    Raises:
        ValueError: ``how`` is neither ``"any"`` nor ``"all"``.
        DataFormatError: a missing column, or a bad target and ``strict=True``.
        EmptyDatasetError: no row is left.
    """
    if how not in ("any", "all"):
        raise ValueError(f"how must be 'any' or 'all', got {how!r}")
    targets = list(targets)
    require_columns(df, ["material_id", *targets], "the table given to clean_targets")
    values = df[targets].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    missing = ~np.isfinite(values)
    low, high = (np.array([TARGET_RANGES.get(t, (-np.inf, np.inf))[side] for t in targets])
                 for side in (0, 1))
    outside = ~missing & ((values < low) | (values > high))
    bad = missing | outside
    drop = bad.any(axis=1) if how == "any" else bad.all(axis=1)
    if drop.any() or outside.any():
        ids = df["material_id"].to_numpy()
        problems = []
        for i, target in enumerate(targets):
            if missing[:, i].any():
                problems.append(f"{target}: {int(missing[:, i].sum())} missing/NaN/inf "
                                f"(e.g. {ids[missing[:, i]][:3].tolist()})")
            if outside[:, i].any():
                first = int(np.flatnonzero(outside[:, i])[0])
                problems.append(f"{target}: {int(outside[:, i].sum())} outside the possible "
                                f"range [{low[i]:g}, {high[i]:g}] (e.g. {ids[first]!r} = "
                                f"{values[first, i]:g})")
        message = (f"{int(drop.sum())} of {len(df)} rows have bad targets: "
                   f"{'; '.join(problems)}")
        if strict:
            raise DataFormatError(message)
        warnings.warn(message + ("; they are dropped" if how == "any" else
                                 "; rows with no good target are dropped, impossible values "
                                 "of the others become NaN"), stacklevel=2)
        if outside.any():
            df = df.copy()
            for i, target in enumerate(targets):
                df.loc[outside[:, i], target] = np.nan
        df = df.loc[~drop].reset_index(drop=True)
    if df.empty:
        raise EmptyDatasetError(f"no rows left after dropping bad targets {targets}")
    return df


def load_mp_sample(path: str | Path | None = None, *, strict: bool = False) -> pd.DataFrame:
    """Load the offline MP sample as a table.

    Args:
        path: the ``.json.gz`` file; default :func:`hybridlib.data.paths.sample_path`.
        strict: raise on bad targets instead of dropping them with a warning.

    Returns:
        DataFrame with ``material_id, formula, structure, e_form, band_gap, n_sites,
        n_elements``, one row per material, in file order.
    """
    path = Path(path) if path is not None else sample_path()
    if not path.is_file():
        raise DataNotFoundError(f"offline sample not found: {path}")
    records = read_records(path, TARGETS)
    ids = [str(r["material_id"]) for r in records]
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
