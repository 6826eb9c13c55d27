"""Joining two tables by crystal identity, never by row position.

Introduced in: chapter 5.5.
"""
from __future__ import annotations

from collections import defaultdict

import pandas as pd
from pymatgen.core import Structure

from .tables import require_columns

__all__ = ["structure_key", "join_by_structure"]


def structure_key(structure: Structure, decimals: int = 2) -> tuple:
    """A canonical key for crystal identity: reduced formula, sites and volume per atom.

    Equal crystals have equal keys (the key ignores site order, cell choice and
    translation); different crystals may collide, so :func:`join_by_structure` confirms
    collisions with pymatgen's ``StructureMatcher``.
    """
    volume = round(structure.volume / len(structure), decimals)
    return structure.composition.reduced_formula, volume


def join_by_structure(left: pd.DataFrame, right: pd.DataFrame, *,
                      suffixes: tuple[str, str] = ("_left", "_right"),
                      report: bool = True) -> pd.DataFrame:
    """Inner-join two tables on crystal identity (never on row position).

    Rows are matched by :func:`structure_key`; a key shared by more than one row on
    either side is resolved with ``StructureMatcher`` (each right row used once).

    Returns:
        One row per matched pair, with both tables' columns (``suffixes`` on clashes).
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    for side, table in (("left", left), ("right", right)):
        require_columns(table, ["structure"], f"the {side} table given to join_by_structure")
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for j, s in enumerate(right["structure"]):
        buckets[structure_key(s)].append(j)
    left_keys = [structure_key(s) for s in left["structure"]]
    left_count = defaultdict(int)
    for key in left_keys:
        left_count[key] += 1
    matcher = StructureMatcher()
    pairs, used, n_confirmed = [], set(), 0
    for i, key in enumerate(left_keys):
        candidates = [j for j in buckets.get(key, ()) if j not in used]
        if not candidates:
            continue
        if len(candidates) == 1 and len(buckets[key]) == 1 and left_count[key] == 1:
            j = candidates[0]
        else:
            j = next((c for c in candidates
                      if matcher.fit(left["structure"].iat[i], right["structure"].iat[c])), None)
            n_confirmed += 1
            if j is None:
                continue
        used.add(j)
        pairs.append((i, j))
    li, rj = (list(t) for t in zip(*pairs)) if pairs else ([], [])
    joined = pd.concat([left.iloc[li].reset_index(drop=True).add_suffix(suffixes[0]),
                        right.iloc[rj].reset_index(drop=True).add_suffix(suffixes[1])], axis=1)
    joined = joined.rename(columns={c + suffixes[0]: c for c in left.columns})
    if report:
        print(f"join_by_structure: {len(pairs)} matched of {len(left)} left / {len(right)} "
              f"right rows ({n_confirmed} key collisions checked with StructureMatcher)")
    joined.attrs["n_matched"], joined.attrs["n_collisions_checked"] = len(pairs), n_confirmed
    return joined
