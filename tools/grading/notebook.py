"""The exercise-notebook convention: sphinx-exercise gates, cell tags, and which cell belongs to
which exercise.

A solution notebook (the book page) marks an exercise with a sphinx-exercise gate::

    ```{exercise-start}            <- optional title argument
    :label: ex-05-8-2
    ```
    statement
    ```{exercise-end}
    ```
    ```{solution-start} ex-05-8-2
    :class: dropdown
    ```
    solution cells (code and markdown)
    ```{solution-end}
    ```

(backtick, tilde or colon fences; the non-gated ``{exercise}``/``{solution}`` directives work
too). Code cells tagged ``check`` right after the gate are the exercise's visible checks. In a
student copy every cell carries its exercise in the cell metadata ``exercise`` (``null`` for the
shared cells that every exercise needs, such as imports and data loading).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = [
    "CHECK_TAG", "SOLUTION_TAG", "ANSWER_TAG", "EXERCISE_KEY", "STUDENT_LABEL",
    "Block", "Place", "markdown_blocks", "cell_tags", "exercise_labels", "exercise_titles",
    "solution_places",
    "submission_sections", "read_notebook",
]

CHECK_TAG, SOLUTION_TAG, ANSWER_TAG = "check", "solution", "answer"
#: Cell metadata key of a student copy: the exercise label, or ``None`` for a shared cell.
EXERCISE_KEY = "exercise"
#: How a student copy names an exercise where its gate opened (read back when metadata is lost).
STUDENT_LABEL = "採点用ラベル `{label}`"
_STUDENT_LABEL = re.compile(r"採点用ラベル `(?P<label>[^`]+)`")

_DIRECTIVES = ("exercise-start", "exercise-end", "solution-start", "solution-end", "exercise",
               "solution")
_OPENING = re.compile(
    r"^(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>" + "|".join(map(re.escape, _DIRECTIVES))
    + r")\}[ \t]*(?P<arg>.*)$"
)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+)$", re.MULTILINE)


@dataclass
class Block:
    """A slice of a markdown cell: plain text (``name=None``) or one exercise/solution directive."""

    name: str | None
    text: str = ""
    arg: str = ""
    options: dict[str, str] = field(default_factory=dict)


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def markdown_blocks(source: str) -> list[Block]:
    """Split markdown into text blocks and exercise/solution directive blocks (MyST fences)."""
    lines = source.split("\n")
    blocks: list[Block] = []
    text: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPENING.match(lines[i].strip())
        if match is None:
            text.append(lines[i])
            i += 1
            continue
        if text:
            blocks.append(Block(None, "\n".join(text)))
            text = []
        end = i + 1
        while end < len(lines) and not _closes(lines[end], match["fence"]):
            end += 1
        inner = lines[i + 1 : end]
        options = {}
        while inner and (option := _OPTION.match(inner[0].strip())):
            options[option["key"]] = option["value"].strip()
            inner = inner[1:]
        blocks.append(Block(match["name"], "\n".join(inner), match["arg"].strip(), options))
        i = end + 1
    if text:
        blocks.append(Block(None, "\n".join(text)))
    return blocks


def cell_tags(cell) -> list[str]:
    """The string tags of a cell (anything malformed counts as no tag)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def _opened_label(block: Block) -> str | None:
    if block.name in ("exercise", "exercise-start"):
        return block.options.get("label") or None
    return None


def exercise_titles(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Per exercise label, its title: the directive's argument, else the heading above it."""
    titles: dict[str, str] = {}
    heading = ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for block in markdown_blocks(cell.source):
            if block.name is None:
                headings = _HEADING.findall(block.text)
                heading = headings[-1].strip() if headings else heading
            elif label := _opened_label(block):
                titles[label] = block.arg or heading or label
    return titles


def exercise_labels(nb: nbformat.NotebookNode) -> list[str]:
    """Labels of the exercises of a solution notebook, in order of appearance."""
    return [label for cell in nb.cells if cell.cell_type == "markdown"
            for block in markdown_blocks(cell.source) if (label := _opened_label(block))]


@dataclass(frozen=True)
class Place:
    """Where a cell of a solution notebook sits: its exercise (None: shared) and whether a
    solution gate is open when the cell starts."""

    exercise: str | None
    in_solution: bool


def solution_places(nb: nbformat.NotebookNode) -> list[Place]:
    """Per cell of a solution notebook, its :class:`Place`.

    A cell belongs to an exercise from the cell that opens it to the end of its solution; so do
    later cells tagged ``check``, ``solution`` or ``answer`` (until the next exercise opens).
    Every other cell is shared: it runs before every exercise that follows it.
    """
    exercise = last = None
    in_solution = closed = False
    places = []
    for cell in nb.cells:
        tags = cell_tags(cell)
        blocks = markdown_blocks(cell.source) if cell.cell_type == "markdown" else []
        opened = [label for block in blocks if (label := _opened_label(block))]
        if opened:
            owner = opened[0]
        elif in_solution or (exercise and not closed):
            owner = exercise
        elif {CHECK_TAG, SOLUTION_TAG, ANSWER_TAG} & set(tags):
            owner = last
        else:
            owner = None
        places.append(Place(owner, in_solution))
        for block in blocks:
            if label := _opened_label(block):
                exercise = last = label
                closed = False
            elif block.name == "solution-start":
                exercise = last = block.arg or exercise
                in_solution, closed = True, False
            elif block.name == "solution-end":
                in_solution, closed = False, True
            elif block.name == "solution":
                exercise = last = block.arg or exercise
                closed = True
    return places


def submission_sections(nb: nbformat.NotebookNode,
                        shared_sources: Iterable[str] = ()) -> list[str | None]:
    """Per cell of a submitted notebook: the exercise it belongs to, or None (shared).

    In order: the cell metadata ``exercise`` (a label, or ``null`` for a shared cell); a
    ``check`` cell belongs to the exercise before it; a cell whose source equals a shared cell
    of the handed-out copy is shared; a student heading
    (:data:`STUDENT_LABEL`) or an exercise directive starts that exercise; any other cell (one
    the student added, or whose metadata was lost) belongs to the cell before it.
    """
    shared = {source.strip() for source in shared_sources if source.strip()}
    current = last = None
    sections = []
    for cell in nb.cells:
        metadata = cell.get("metadata", {})
        if EXERCISE_KEY in metadata:
            value = metadata[EXERCISE_KEY]
            current = value if isinstance(value, str) and value else None
        elif CHECK_TAG in cell_tags(cell) and last:
            current = last
        elif str(cell.source).strip() in shared:
            current = None
        elif cell.cell_type == "markdown":
            for label in _STUDENT_LABEL.finditer(cell.source):
                current = label["label"]
            for block in markdown_blocks(cell.source):
                current = _opened_label(block) or current
        last = current or last
        sections.append(current)
    return sections


def read_notebook(path: Path | str) -> nbformat.NotebookNode:
    """Read a notebook strictly: not UTF-8, invalid JSON or not a notebook raise ``ValueError``."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
        json.loads(text)
        nb = nbformat.reads(text, as_version=4)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{type(err).__name__}: {err}") from None
    except Exception as err:  # nbformat: not a notebook, unknown version, bad cells
        raise ValueError(f"not a notebook ({type(err).__name__}: {err})") from None
    if not isinstance(nb.get("cells"), Sequence):
        raise ValueError("not a notebook (no list of cells)")
    for cell in nb.cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(
                cell.get("source"), str):
            raise ValueError(f"not a notebook (a cell of type {cell.get('cell_type')!r})")
    return nb
