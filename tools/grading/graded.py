"""Graded copies: one notebook per exercise, built from a submission, that nbval executes.

The graded copy of exercise ``E`` holds, in the submission's order, every shared code cell and
every code cell of ``E`` up to ``E``'s last cell (cells of other exercises are left out, so
their hangs and crashes cannot touch ``E``), then a prelude that defines the emitter, then ``E``'s
hidden checks. Each check runs inside a function of its own and prints its value after a marker
drawn at random for this run (:mod:`tools.grading.emission`). If no cell of the submission
belongs to ``E`` (headings and metadata deleted), the checks go after the last cell. Visible
check cells are student cells like any other: what a student types into one runs, and
:func:`check_cell_notes` reports the change.
"""
from __future__ import annotations

import ast
import secrets
from dataclasses import dataclass

import nbformat

from .checks import Check, ExerciseChecks
from .emission import kernel_prelude
from .notebook import CHECK_TAG, cell_tags

__all__ = ["Role", "GradedCopy", "graded_copy", "check_cell_notes", "EMIT_NAME"]

EMIT_NAME = "__grader_emit"
_CHECK_NAME = "__grader_check"


@dataclass(frozen=True)
class Role:
    """What one code cell of a graded copy is."""

    kind: str                # "student", "prelude" or "check"
    check: Check | None = None
    marker: str = ""
    cell: int | None = None  # a student cell: its index in the submission


@dataclass(frozen=True)
class GradedCopy:
    """The notebook nbval runs for one exercise, and the role of each of its code cells."""

    label: str
    notebook: nbformat.NotebookNode
    roles: tuple[Role, ...]


def _check_source(check: Check, marker: str) -> str:
    """A check as kernel code: its body in a function returning the last expression."""
    tree = ast.parse(check.source)
    function = ast.parse(f"def {_CHECK_NAME}():\n    pass").body[0]
    function.body = tree.body[:-1] + [ast.Return(tree.body[-1].value)]
    ast.fix_missing_locations(function)
    header = (f"# 隠しテスト {check.exercise} #{check.number}（{check.points:g} 点）："
              f"{check.title}")
    return f"{header}\n{ast.unparse(function)}\n{EMIT_NAME}({marker!r}, {_CHECK_NAME})"


def graded_copy(nb: nbformat.NotebookNode, sections: list[str | None],
                exercise: ExerciseChecks) -> GradedCopy:
    """The graded copy of one exercise of a submission (``sections`` from
    :func:`tools.grading.notebook.submission_sections`)."""
    label = exercise.label
    mine = [i for i, section in enumerate(sections) if section == label]
    last = mine[-1] if mine else len(nb.cells) - 1
    kept = [i for i, (cell, section) in enumerate(zip(nb.cells, sections))
            if i <= last and cell.cell_type == "code" and section in (None, label)]
    sources = [str(nb.cells[i].source) for i in kept]
    roles = [Role("student", cell=i) for i in kept]
    sources.append(kernel_prelude(EMIT_NAME))
    roles.append(Role("prelude"))
    for check in exercise.checks:
        marker = f"@@grading:{secrets.token_hex(12)}@@"
        sources.append(_check_source(check, marker))
        roles.append(Role("check", check, marker))
    graded = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    graded.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return GradedCopy(label, graded, tuple(roles))


def _check_cells(nb: nbformat.NotebookNode, sections: list[str | None]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cell, section in zip(nb.cells, sections):
        if cell.cell_type == "code" and CHECK_TAG in cell_tags(cell) and section:
            found.setdefault(section, []).append(str(cell.source).strip())
    return found


def check_cell_notes(nb: nbformat.NotebookNode, sections: list[str | None],
                     handed_out: nbformat.NotebookNode,
                     handed_out_sections: list[str | None]) -> dict[str, list[str]]:
    """Per exercise, Japanese notes on visible check cells that differ from the handed-out copy."""
    given, submitted = _check_cells(handed_out, handed_out_sections), _check_cells(nb, sections)
    notes: dict[str, list[str]] = {}
    for label, originals in given.items():
        cells = submitted.get(label, [])
        edited = [cell for cell in cells if cell not in originals]
        if edited:
            notes.setdefault(label, []).append(
                f"確認セルが配布時から書き換えられています（{len(edited)} 個）。書き加えたコードも"
                "採点のときに実行されます。解答は確認セルではなく解答欄のセルに書いてください。")
        if len(cells) - len(edited) < len(originals) and not edited:
            notes.setdefault(label, []).append(
                "確認セルが削除されています（採点には影響しません）。")
    return notes
