"""Student copies of a solution notebook: stubs for solution code, placeholders for solution text.

* Everything inside a solution gate is solution: code cells become stubs (:func:`stub_code`),
  markdown text (text that shares a cell with a fence included) becomes
  :data:`ANSWER_PLACEHOLDER`, and so does the body of a non-gated ``{solution}``. Outside a gate,
  the tag ``solution`` marks a code cell to stub and the tag ``answer`` a markdown cell to replace.
* Code cells tagged ``check`` (visible checks) are kept as they are.
* Where an exercise opens, the copy writes ``**演習**（採点用ラベル `LABEL`）`` (with the
  directive's title, if it has one), and ``**解答欄**`` where its solution opened.
* Every cell keeps its ``tags`` and gets the metadata ``exercise``: its exercise label, or
  ``null`` for a shared cell. Only ``kernelspec``/``language_info`` of the notebook metadata stay;
  there are no outputs.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from pathlib import Path

import nbformat

from .notebook import (ANSWER_TAG, CHECK_TAG, EXERCISE_KEY, SOLUTION_TAG, STUDENT_LABEL, Place,
                       cell_tags, markdown_blocks, solution_places)
from .stubs import stub_code

__all__ = ["ANSWER_PLACEHOLDER", "ANSWER_HEADING", "make_student_copy", "write_student_copies",
           "student_heading"]

ANSWER_PLACEHOLDER = "*（ここに解答を書いてください）*"
ANSWER_HEADING = "**解答欄**"
_KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def student_heading(label: str | None, title: str = "") -> str:
    """The line a student copy writes where an exercise opens."""
    name = f"**演習：{title}**" if title else "**演習**"
    return f"{name}（{STUDENT_LABEL.format(label=label)}）" if label else name


def _student_markdown(source: str, place: Place) -> str:
    """Markdown of a student copy: directives made readable, solution text replaced."""
    parts: list[str] = []
    in_solution = place.in_solution
    for block in markdown_blocks(source):
        if block.name is None:
            if not in_solution:
                parts.append(block.text)
            elif block.text.strip() and ANSWER_PLACEHOLDER not in parts[-1:]:
                parts.append(ANSWER_PLACEHOLDER)
        elif block.name in ("exercise", "exercise-start"):
            parts.append(student_heading(block.options.get("label"), block.arg))
            parts.append(block.text if block.name == "exercise" else "")
        elif block.name == "solution-start":
            in_solution = True
            parts.append(ANSWER_HEADING)
        elif block.name == "solution-end":
            in_solution = False
        elif block.name == "solution":
            parts += [ANSWER_HEADING, ANSWER_PLACEHOLDER]
    return "\n\n".join(part.strip("\n") for part in parts if part.strip())


def _student_cell(cell, source: str, exercise: str | None) -> nbformat.NotebookNode:
    new = copy.deepcopy(cell)
    new.source = source
    tags = cell_tags(cell)
    new.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
    new.metadata[EXERCISE_KEY] = exercise
    if new.cell_type == "code":
        new.outputs, new.execution_count = [], None
    new.pop("attachments", None)
    return new


def make_student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Student copy of a solution notebook: stubs, placeholders, no outputs (see module doc)."""
    student = nbformat.v4.new_notebook()
    student.nbformat_minor = nb.nbformat_minor
    kept = {key: nb.metadata[key] for key in _KEPT_NOTEBOOK_METADATA if key in nb.metadata}
    student.metadata = nbformat.NotebookNode(copy.deepcopy(kept))
    for cell, place in zip(nb.cells, solution_places(nb)):
        tags = cell_tags(cell)
        if cell.cell_type == "markdown":
            source = (ANSWER_PLACEHOLDER if ANSWER_TAG in tags
                      else _student_markdown(cell.source, place))
            if not source.strip():
                continue
        elif cell.cell_type == "code" and CHECK_TAG not in tags and (
                place.in_solution or SOLUTION_TAG in tags):
            source = stub_code(cell.source, place.exercise)
        elif cell.cell_type == "raw" and place.in_solution:
            source = ANSWER_PLACEHOLDER
        else:
            source = cell.source
        student.cells.append(_student_cell(cell, source, place.exercise))
    return student


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_student_copies(
    notebooks: Iterable[Path | str], out_dir: Path | str, check: bool = False
) -> list[Path]:
    """Write the student copy of each notebook into ``out_dir`` (same file name).

    Args:
        notebooks: solution notebooks (``.ipynb``).
        out_dir: the folder a course hands out.
        check: write nothing; return the copies that are missing or differ from a fresh one.

    Returns:
        The paths written, or with ``check=True`` the stale ones.
    """
    out_dir = Path(out_dir)
    paths = []
    for notebook in map(Path, notebooks):
        text = nbformat.writes(make_student_copy(nbformat.read(notebook, as_version=4))) + "\n"
        target = out_dir / notebook.name
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                paths.append(target)
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(target, text)
        paths.append(target)
    return paths
