"""The columns a data table must have, checked with an error that names them.

Every table of :mod:`hybridlib.data` has ``material_id, formula, structure`` plus target
columns; a function that needs some of them says which are missing, from which table,
instead of a bare pandas ``KeyError``. Introduced in: chapter 5.1.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from .paths import DataFormatError

__all__ = ["require_columns"]


def require_columns(df: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise :class:`DataFormatError` unless ``df`` has every one of ``columns``.

    Args:
        df: the table.
        columns: the columns the caller reads.
        table: how the message names the table, e.g. ``"the table given to graph_dataset"``.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in dict.fromkeys(columns) if c not in df.columns]
    if missing:
        raise DataFormatError(f"{table} lacks the column(s) {missing}; it has "
                              f"{list(map(str, df.columns))}")
