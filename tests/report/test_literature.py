"""hybridlib.report.literature: merged leaderboard entries apart from unreviewed submissions."""
from __future__ import annotations

import math

from hybridlib.report import literature


def test_open_submissions_are_marked_unreviewed_and_listed_after_merged_entries():
    board = literature.matbench_leaderboard()
    assert set(board["status"]) == {literature.MERGED, literature.UNREVIEWED}
    status = board["status"].tolist()
    assert status == sorted(status, key=lambda s: s != literature.MERGED)  # merged first
    assert board["source"].str.len().gt(0).all()
    merged = board[board["status"] == literature.MERGED]
    assert (merged["source"] == literature.LEADERBOARD_SOURCE).all()
    open_rows = board[board["status"] == literature.UNREVIEWED].set_index("algorithm")
    mace = open_rows.loc["MACE-MH-1 descriptors + Magpie + MLP"]
    assert mace["e_form MAE (eV/atom)"] == 0.0169 and math.isnan(mace["e_form std"])
    assert "pull request #361" in mace["source"]


def test_merged_only_view_leaves_the_open_submissions_out():
    merged = literature.matbench_leaderboard(include_open=False)
    assert set(merged["status"]) == {literature.MERGED}
    assert len(merged) == len(literature.matbench_leaderboard()) - len(literature._OPEN_ROWS)
