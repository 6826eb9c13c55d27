"""The offline Castelli cubic-perovskite sample (CDVAE's perov_5 test and val rows).

7,572 five-atom ABX3-type cells with RPBE heats of formation and GLLB-SC band gaps from
the Computational Materials Repository {cite}`castelli2012new,castelli2012perovskite`.
These are **not** Materials Project values: ``heat_all`` is the heat of formation of the
whole 5-atom cell (eV per cell, RPBE), with its own elemental references, so it is not on
the scale of MP's ``e_form`` (eV/atom, PBE/PBE+U with MP corrections); most gaps are 0
(``files/README.md`` says why they cannot be used as a general target).

The packaged file is checked against its published sha256, so a run keyed on this module's
source is keyed on the data too. Introduced in: chapter 5.9.
"""
from __future__ import annotations

import hashlib
import math
import os
import warnings
from pathlib import Path

import pandas as pd

from .paths import DATA_ENV, DataFormatError, DataNotFoundError, data_dir, read_records
from .sample import NO_PAULING_WARNING, add_descriptors, clean_targets, parse_structures

__all__ = ["PEROVSKITE_FILE", "PEROVSKITE_SHA256", "PEROVSKITE_TARGETS", "SITES_PER_CELL",
           "load_perovskites"]

PEROVSKITE_FILE = "perovskites_sample.json.gz"
#: sha256 of the packaged file (as published in ``files/README.md``).
PEROVSKITE_SHA256 = "0bd35285a5faeac6d50349cbe85aa93fd046003dedfa29078ec7625e068a679c"
#: Numeric columns: heats of formation (eV per 5-atom cell) and GLLB-SC gaps (eV).
PEROVSKITE_TARGETS = ("heat_all", "heat_ref", "dir_gap", "ind_gap")
SITES_PER_CELL = 5


def _check_digest(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise DataFormatError(
            f"{path}: sha256 {digest} differs from the published {expected}; the file was "
            f"altered or replaced. Restore it (files/README.md gives its source), or pass "
            f"path= with verify=False to read another copy on purpose.")


def load_perovskites(path: str | Path | None = None, *, verify: bool = True,
                     strict: bool = False) -> pd.DataFrame:
    """Load the perovskite sample as a table.

    Args:
        path: the ``.json.gz`` file; default ``data_dir() / PEROVSKITE_FILE``.
        verify: check the file against :data:`PEROVSKITE_SHA256`.
        strict: raise on bad targets instead of dropping them with a warning.

    Returns:
        DataFrame with ``material_id, formula, structure, heat_all, heat_ref, dir_gap,
        ind_gap, n_sites, n_elements``, one row per material, in file order.

    Raises:
        DataNotFoundError: the file is missing.
        DataFormatError: unreadable file, wrong digest, missing fields, duplicate ids, a
            structure that does not parse or a cell without 5 sites (the record is named).
    """
    path = Path(path) if path is not None else data_dir() / PEROVSKITE_FILE
    if not path.is_file():
        raise DataNotFoundError(
            f"perovskite sample not found: {path}. ${DATA_ENV} is "
            f"{os.environ.get(DATA_ENV)!r}; unset it to read the copy shipped with the "
            f"package, or point it at a folder holding {PEROVSKITE_FILE}.")
    if verify:
        _check_digest(path, PEROVSKITE_SHA256)
    records = read_records(path, PEROVSKITE_TARGETS)
    ids = [str(r["material_id"]) for r in records]
    df = pd.DataFrame({"material_id": ids, **{
        t: [r[t] if r[t] is not None else math.nan for r in records] for t in PEROVSKITE_TARGETS}})
    df = clean_targets(df, PEROVSKITE_TARGETS, strict=strict)
    keep = set(df["material_id"])
    records = [r for r in records if str(r["material_id"]) in keep]
    structures = parse_structures(records, path)
    for record, structure in zip(records, structures):
        if len(structure) != SITES_PER_CELL:
            raise DataFormatError(f"{path}: material {record['material_id']!r} has "
                                  f"{len(structure)} sites, expected {SITES_PER_CELL}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NO_PAULING_WARNING, category=UserWarning)
        df.insert(1, "formula", [s.composition.reduced_formula for s in structures])
    df.insert(2, "structure", structures)
    return add_descriptors(df)
