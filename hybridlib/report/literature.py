"""Published Matbench v0.1 values, kept apart from anything this book measures.

Two kinds of rows, told apart by the ``status`` column, each with its ``source``:

* merged leaderboard entries: the Matbench per-task leaderboards
  {cite}`matbench_leaderboard`, repository ``materialsproject/matbench``, files
  ``docs_src/Leaderboards Per-Task/matbench_v0.1_matbench_mp_e_form.md`` and
  ``..._mp_gap.md`` at commit ``bb3eebf475ceac45e257f36c05cec7773b5ebb43`` (built late
  2023 or later; read 2026-11-25): mean and standard deviation of the test MAE over the
  five official folds;
* open submissions: pull requests to that repository that are not merged, so nobody has
  reviewed them; the value is the one the submitter states (e.g. the frozen MACE-MH-1
  descriptors ⊕ Magpie submission {cite}`alence2026macemh1`, read 2026-12-01; its
  description gives no fold standard deviation and no band-gap result).

Units: e_form eV/atom, gap eV. They come from the full Matbench data sets, not from the
MP-20 sample this book trains on, so they must never be mixed with measured rows.
Introduced in: chapter 5.6.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["LEADERBOARD_SOURCE", "MERGED", "UNREVIEWED", "matbench_leaderboard"]

LEADERBOARD_SOURCE = ("materialsproject/matbench@bb3eebf4, docs_src/Leaderboards Per-Task "
                      "(Matbench v0.1, 5-fold test MAE), read 2026-11-25")
MERGED = "merged leaderboard entry"
UNREVIEWED = "open submission (unreviewed)"
_NAN = float("nan")

# (algorithm, family, e_form MAE, e_form std, gap MAE, gap std)
_ROWS = [
    ("coGN", "graph", 0.0170, 0.0003, 0.1559, 0.0017),
    ("ALIGNN", "graph", 0.0215, 0.0005, 0.1861, 0.0030),
    ("SchNet (kgcnn v2.1.0)", "graph", 0.0218, 0.0004, 0.2352, 0.0034),
    ("MegNet (kgcnn v2.1.0)", "graph", 0.0252, 0.0003, 0.1934, 0.0087),
    ("CGCNN v2019", "graph", 0.0337, 0.0006, 0.2972, 0.0035),
    ("MODNet v0.1.12", "composition+structure", 0.0448, 0.0039, 0.2199, 0.0059),
    ("CrabNet", "composition", 0.0862, 0.0010, 0.2655, 0.0029),
    ("RF-SCM/Magpie", "composition", 0.1165, 0.0008, 0.3452, 0.0033),
    ("Dummy (mean)", "baseline", 1.0059, 0.0030, 1.3272, 0.0060),
]
# (algorithm, family, e_form MAE, e_form std, gap MAE, gap std, source): not merged
_OPEN_ROWS = [
    ("MACE-MH-1 descriptors + Magpie + MLP", "pretrained+composition", 0.0169, _NAN, _NAN,
     _NAN, "materialsproject/matbench pull request #361 (opened 2026-03-13, open; "
     "read 2026-12-01)"),
]


def matbench_leaderboard(include_open: bool = True) -> pd.DataFrame:
    """Cited values for ``matbench_mp_e_form`` and ``matbench_mp_gap``.

    Args:
        include_open: also list open (unmerged, unreviewed) submissions, after the merged
            leaderboard entries.

    Returns:
        ``algorithm, family, e_form MAE (eV/atom), e_form std, gap MAE (eV), gap std,
        status, source``; ``status`` is :data:`MERGED` or :data:`UNREVIEWED`, NaN where
        the source gives no value.
    """
    rows = [(*row, MERGED, LEADERBOARD_SOURCE) for row in _ROWS]
    if include_open:
        rows += [(*row[:-1], UNREVIEWED, row[-1]) for row in _OPEN_ROWS]
    return pd.DataFrame(rows, columns=["algorithm", "family", "e_form MAE (eV/atom)",
                                       "e_form std", "gap MAE (eV)", "gap std", "status",
                                       "source"])
