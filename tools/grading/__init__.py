"""Student copies, hidden checks and nbval grading of the exercise notebooks.

Commands (run in the repository root)::

    python -m tools.grading students chapters/05_8_exercises.ipynb --out students [--check]
    python -m tools.grade SUBMISSIONS/ --out grades.csv [--checks chapters/checks]
        [--cell-timeout 300] [--timeout 1800] [--jobs 1] [--keep DIR]

Convention of an exercise notebook (the solution notebook is the book page)
--------------------------------------------------------------------------
* An exercise is a sphinx-exercise gate: ```` ```{exercise-start} TITLE ```` + ``:label: LABEL``,
  the statement, ```` ```{exercise-end} ````, then ```` ```{solution-start} LABEL ```` +
  ``:class: dropdown``, the solution cells, ```` ```{solution-end} ```` (backtick, tilde or colon
  fences; the non-gated ``{exercise}``/``{solution}`` directives work too). Labels are unique: they
  name the hidden checks and the gradebook rows.
* Everything inside a solution gate is solution: code cells become stubs, markdown text (text that
  shares a cell with a fence included) becomes :data:`ANSWER_PLACEHOLDER`, and so does the body of a
  non-gated ``{solution}``. Outside a gate, the tag ``solution`` marks a code cell to stub and the
  tag ``answer`` a markdown cell to replace.
* A stub (:func:`stub_code`) keeps imports, decorators, signatures and docstrings of top-level
  functions and classes (methods included) with bodies that raise ``NotImplementedError``; any other
  top-level statement becomes a ``# TODO`` naming the variables to define plus a cell-level
  ``raise NotImplementedError``. Docstrings and signatures therefore must not give the answer away.
* Code cells tagged ``check`` are visible checks students may run: kept in the student copy, dropped
  from the graded copy (editing or deleting them changes no grade).
* A student copy keeps cell ``tags``, puts the exercise label of every cell of an exercise in cell
  metadata ``exercise``, writes each exercise heading as ``**演習 `LABEL`** TITLE``, keeps only
  ``kernelspec``/``language_info`` of the notebook metadata, and has no outputs.

Hidden checks: ``chapters/checks/LABEL.py`` (never in a student copy)
--------------------------------------------------------------------
One file per auto-graded exercise. Each line ``# %% points=N`` starts one check cell worth ``N``
points; before the first marker only a docstring or comments may stand. A check is plain Python run
in the student's kernel: it passes if it raises nothing; ``AssertionError`` makes it ``failed``, any
other exception ``error``. Checks import what they use, compute expected values themselves, name
their own variables ``_like_this`` and give every ``assert`` a message (it goes into the gradebook).
Exercises without a file (written answers) are not in the gradebook.

Grading
-------
Every ``SUBMISSIONS/**/*.ipynb`` (hidden folders skipped; the student id is the path without
``.ipynb``, or the folder when it holds only that notebook) is rebuilt as a graded copy in a
temporary folder, never touching the submission: cell sources only, ``check`` cells dropped, and
the hidden checks of each exercise inserted after the last cell of that exercise (cells belong to
the exercise named by their ``exercise`` metadata, heading or directive, or else to the one before),
or at the end if no cell names it. The copy runs with ``pytest --nbval-lax --nbval-current-env
--nbval-cell-timeout=T --junitxml`` in a subprocess whose process tree is killed after the notebook
timeout; each hidden check cell is one nbval item, read back from the junit XML. Per exercise the
gradebook has the points of its passed checks and a status: ``passed`` (every check passed),
``timeout`` (a check or a cell of the exercise ran past the cell timeout; or the whole notebook ran
past its timeout, then 0 points), ``error`` (a check raised something else than ``AssertionError``,
e.g. the stub's ``NotImplementedError``), ``failed`` (an assertion failed) or ``malformed`` (not a
readable notebook, 0 points). One bad submission never stops the others.
"""
from __future__ import annotations

import argparse
import ast
import copy
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

__all__ = [
    "ANSWER_PLACEHOLDER",
    "STATUSES",
    "Check",
    "stub_code",
    "GradeRow",
    "exercise_labels",
    "make_student_copy",
    "write_student_copies",
    "load_checks",
    "grade_notebook",
    "grade_submissions",
    "write_gradebook",
    "main",
]

ANSWER_PLACEHOLDER = "*（ここに解答を書いてください）*"
ANSWER_HEADING = "**解答欄**"
STATUSES = ("passed", "failed", "error", "timeout", "malformed")
GRADEBOOK_COLUMNS = ("student", "exercise", "points", "max_points", "status", "message")
CHECK_TAG, SOLUTION_TAG, ANSWER_TAG = "check", "solution", "answer"
EXERCISE_KEY = "exercise"
_KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|#x1B\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------- markdown gates
_DIRECTIVES = ("exercise-start", "exercise-end", "solution-start", "solution-end", "exercise",
               "solution")
_OPENING = re.compile(
    r"^(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>" + "|".join(map(re.escape, _DIRECTIVES))
    + r")\}[ \t]*(?P<arg>.*)$"
)
_STUDENT_HEADING = re.compile(r"^\*\*演習 `(?P<label>[^`]+)`\*\*", re.MULTILINE)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")


@dataclass
class _Block:
    """A slice of a markdown cell: plain text (``name=None``) or one exercise/solution directive."""

    name: str | None
    text: str = ""
    arg: str = ""
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class _GateState:
    """Where a walk through a notebook is: current exercise label, inside a solution or not."""

    exercise: str | None = None
    in_solution: bool = False

    def advance(self, block: _Block) -> None:
        """Update the state with one directive block."""
        if block.name in ("exercise", "exercise-start"):
            self.exercise = block.options.get("label") or None
        elif block.name == "solution-start":
            self.in_solution = True
            self.exercise = block.arg or self.exercise
        elif block.name == "solution-end":
            self.in_solution = False

    def enter(self, cell) -> None:
        """Update the exercise label from a submitted cell: its metadata, heading or directives."""
        label = cell.get("metadata", {}).get(EXERCISE_KEY)
        if isinstance(label, str) and label:
            self.exercise = label
        if cell.cell_type == "markdown":
            for heading in _STUDENT_HEADING.finditer(cell.source):
                self.exercise = heading["label"]
            for block in _markdown_blocks(cell.source):
                if block.name is not None:
                    self.advance(block)


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _markdown_blocks(source: str) -> list[_Block]:
    """Split markdown into text blocks and exercise/solution directive blocks (MyST fences)."""
    lines = source.split("\n")
    blocks: list[_Block] = []
    text: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPENING.match(lines[i].strip())
        if match is None:
            text.append(lines[i])
            i += 1
            continue
        if text:
            blocks.append(_Block(None, "\n".join(text)))
            text = []
        end = i + 1
        while end < len(lines) and not _closes(lines[end], match["fence"]):
            end += 1
        inner = lines[i + 1 : end]
        options = {}
        while inner and (option := _OPTION.match(inner[0].strip())):
            options[option["key"]] = option["value"].strip()
            inner = inner[1:]
        blocks.append(_Block(match["name"], "\n".join(inner), match["arg"].strip(), options))
        i = end + 1
    if text:
        blocks.append(_Block(None, "\n".join(text)))
    return blocks


def _cell_tags(cell) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def exercise_labels(nb: nbformat.NotebookNode) -> list[str]:
    """Labels of the exercises of a notebook, in order of appearance."""
    labels: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for block in _markdown_blocks(cell.source):
                if block.name in ("exercise", "exercise-start") and block.options.get("label"):
                    labels.append(block.options["label"])
    return labels


# --------------------------------------------------------------------------- student copies
def _student_markdown(source: str, state: _GateState) -> str:
    """Markdown of a student copy: directives made readable, solution text replaced."""
    parts: list[str] = []
    for block in _markdown_blocks(source):
        if block.name is None:
            if not state.in_solution:
                parts.append(block.text)
            elif block.text.strip() and ANSWER_PLACEHOLDER not in parts[-1:]:
                parts.append(ANSWER_PLACEHOLDER)
            continue
        state.advance(block)
        if block.name in ("exercise", "exercise-start"):
            label = f" `{state.exercise}`" if state.exercise else ""
            parts.append(f"**演習{label}** {block.arg}".rstrip())
            parts.append(block.text if block.name == "exercise" else "")
        elif block.name == "solution-start":
            parts.append(ANSWER_HEADING)
        elif block.name == "solution":
            parts += [ANSWER_HEADING, ANSWER_PLACEHOLDER]
    return "\n\n".join(part.strip("\n") for part in parts if part.strip())


def _todo(label: str | None) -> str:
    return f"演習 {label}: ここを実装してください" if label else "ここを実装してください"


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


_Definition = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _raise(todo: str) -> ast.stmt:
    return ast.parse(f"raise NotImplementedError({todo!r})").body[0]


def _stubbed(node: ast.stmt, todo: str) -> ast.stmt:
    """AST of a definition whose function bodies raise (docstrings kept, methods stubbed)."""
    new = copy.copy(node)
    doc = node.body[:1] if _is_docstring(node.body[0]) else []
    if isinstance(node, ast.ClassDef):
        methods = [_stubbed(m, todo) for m in node.body if isinstance(m, _Definition)]
        new.body = doc + methods or [ast.Pass()]
    else:
        new.body = doc + [_raise(todo)]
    return new


def _stub_definition(node: ast.stmt, lines: list[str], todo: str) -> str:
    """Source of a stubbed definition; the author's signature and docstring stay as written."""
    first = node.body[0]
    if lines[first.lineno - 1][: first.col_offset].strip():  # body shares a line with the header
        return textwrap.indent(ast.unparse(_stubbed(node, todo)), " " * node.col_offset)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    header = lines[start : first.lineno - 1]
    while header and (not header[-1].strip() or header[-1].strip().startswith("#")):
        header.pop()
    body = node.body
    if _is_docstring(first):
        header += lines[first.lineno - 1 : first.end_lineno]
        body = body[1:]
    indent = " " * first.col_offset
    if isinstance(node, ast.ClassDef):
        methods = [_stub_definition(m, lines, todo) for m in body if isinstance(m, _Definition)]
        empty = "" if _is_docstring(first) else f"{indent}pass"
        inner = "\n\n".join(methods) if methods else empty
    else:
        inner = f"{indent}raise NotImplementedError({todo!r})"
    return "\n".join(header + [inner] * bool(inner))


def _assigned_names(node: ast.stmt) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return [n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)]


def stub_code(source: str, label: str | None = None) -> str:
    """The student stub of a solution code cell (see the module docstring)."""
    todo = _todo(label)
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics or a sketch: nothing of it can be kept
        return f"# TODO: {todo}\nraise NotImplementedError({todo!r})"
    lines = source.split("\n")
    imports, definitions, names, loose = [], [], [], False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(source, node))
        elif isinstance(node, _Definition):
            definitions.append(_stub_definition(node, lines, todo))
        else:
            loose = True
            names += [name for name in _assigned_names(node) if name not in names]
    if loose:
        wanted = f"\n# 定義する変数: {', '.join(names)}" if names else ""
        definitions.append(f"# TODO: {todo}{wanted}\nraise NotImplementedError({todo!r})")
    return "\n\n\n".join(["\n".join(imports)] * bool(imports) + definitions)


def _student_cell(cell, source: str, exercise: str | None) -> nbformat.NotebookNode:
    new = copy.deepcopy(cell)
    new.source = source
    tags = _cell_tags(cell)
    new.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
    if exercise:
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
    state = _GateState()
    for cell in nb.cells:
        tags = _cell_tags(cell)
        solution = state.in_solution or SOLUTION_TAG in tags
        if cell.cell_type == "markdown":
            source = _student_markdown(cell.source, state)
            if ANSWER_TAG in tags:
                source = ANSWER_PLACEHOLDER
            elif not source.strip():
                continue
        elif cell.cell_type == "code" and solution and CHECK_TAG not in tags:
            source = stub_code(cell.source, state.exercise)
        elif cell.cell_type == "raw" and solution:
            source = ANSWER_PLACEHOLDER
        else:
            source = cell.source
        student.cells.append(_student_cell(cell, source, state.exercise))
    return student


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
        target.write_text(text, encoding="utf-8")
        paths.append(target)
    return paths


# --------------------------------------------------------------------------- hidden checks
@dataclass(frozen=True)
class Check:
    """One hidden check cell: ``points`` if its ``source`` runs without raising."""

    exercise: str
    number: int
    points: float
    source: str
    origin: str


_MARKER = re.compile(r"^# %%(?P<attrs>.*)$")
_ATTR = re.compile(r"(\w+)=(\S+)")


def _natural_key(label: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def _parse_check_file(path: Path) -> list[Check]:
    lines = path.read_text(encoding="utf-8").split("\n")
    starts = [i for i, line in enumerate(lines) if _MARKER.match(line)]
    if not starts:
        raise ValueError(f"{path}: no '# %% points=N' check cell")
    preamble = "\n".join(lines[: starts[0]])
    if any(not _is_docstring(node) for node in ast.parse(preamble).body):
        raise ValueError(f"{path}: code before the first '# %%' marker never runs; "
                         "move it into a check")
    checks = []
    for number, (start, end) in enumerate(zip(starts, starts[1:] + [len(lines)]), 1):
        origin = f"{path}:{start + 1}"
        attrs = dict(_ATTR.findall(_MARKER.match(lines[start])["attrs"]))
        if set(attrs) != {"points"}:
            raise ValueError(f"{origin}: a check starts with '# %% points=N', not {lines[start]!r}")
        try:
            points = float(attrs["points"])
        except ValueError:
            raise ValueError(f"{origin}: points={attrs['points']!r} is not a number") from None
        if not (math.isfinite(points) and points > 0):
            raise ValueError(f"{origin}: points must be a positive number")
        source = "\n".join(lines[start + 1 : end]).strip("\n")
        if not source.strip():
            raise ValueError(f"{origin}: empty check cell")
        try:
            ast.parse(source)
        except SyntaxError as err:
            raise ValueError(f"{origin}: not valid Python ({err.msg}, line {err.lineno})") from None
        checks.append(Check(path.stem, number, points, source, origin))
    return checks


def load_checks(directory: Path | str) -> dict[str, list[Check]]:
    """Hidden checks of every exercise: ``{label: [Check, ...]}`` from ``directory/LABEL.py``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"hidden checks folder not found: {directory}")
    files = sorted(directory.glob("*.py"), key=lambda p: _natural_key(p.stem))
    if not files:
        raise FileNotFoundError(f"no hidden checks (LABEL.py files) in {directory}")
    return {path.stem: _parse_check_file(path) for path in files}


# --------------------------------------------------------------------------- graded copies
@dataclass(frozen=True)
class _Role:
    """What one code cell of a graded copy is: a hidden check, or a student cell of an exercise."""

    exercise: str | None
    check: Check | None = None


_CELL_MAKERS = {
    "code": nbformat.v4.new_code_cell,
    "markdown": nbformat.v4.new_markdown_cell,
    "raw": nbformat.v4.new_raw_cell,
}


def _check_cells(checks: Sequence[Check]) -> list[tuple[str, str, _Role]]:
    return [
        ("code", f"# hidden check {c.exercise} #{c.number} ({c.points:g} pt)\n{c.source}",
         _Role(c.exercise, c))
        for c in checks
    ]


def _graded_notebook(
    nb: nbformat.NotebookNode, checks: dict[str, list[Check]]
) -> tuple[nbformat.NotebookNode, list[_Role]]:
    """Graded copy (sources only, visible checks out, hidden checks in) and its code-cell roles."""
    state, cells = _GateState(), []
    for cell in nb.cells:
        if cell.cell_type not in _CELL_MAKERS:
            raise ValueError(f"unknown cell type {cell.cell_type!r}")
        state.enter(cell)
        if not (cell.cell_type == "code" and CHECK_TAG in _cell_tags(cell)):
            cells.append((cell.cell_type, str(cell.source), _Role(state.exercise)))
    last_cell = {role.exercise: i for i, (_, _, role) in enumerate(cells)}
    ordered = []
    for i, (kind, source, role) in enumerate(cells):
        ordered.append((kind, source, role))
        if last_cell[role.exercise] == i:
            ordered += _check_cells(checks.get(role.exercise, []))
    for label in checks:
        if label not in last_cell:  # the exercise's markdown was deleted: check at the end
            ordered += _check_cells(checks[label])
    graded = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    graded.cells = [_CELL_MAKERS[kind](source) for kind, source, _ in ordered]
    return graded, [role for kind, _, role in ordered if kind == "code"]


# --------------------------------------------------------------------------- pytest plugin
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In the grading subprocess (``-p tools.grading``): put an nbval cell's exception name
    and value, and whether it timed out, into the junit XML as properties."""
    yield
    if call.when != "call" or call.excinfo is None:
        return
    outputs = getattr(item, "test_outputs", None) or []
    errors = [out for out in outputs if out.get("output_type") == "error"]
    if errors:
        item.user_properties += [("ename", errors[-1]["ename"]), ("evalue", errors[-1]["evalue"])]
    timeout = re.search(r"Timeout of [^\n]*", str(call.excinfo.value))
    if timeout:
        item.user_properties.append(("timeout", timeout[0]))


# --------------------------------------------------------------------------- running, results
@dataclass(frozen=True)
class GradeRow:
    """One gradebook line: the result of one exercise of one student."""

    student: str
    exercise: str
    points: float
    max_points: float
    status: str
    message: str = ""


@dataclass(frozen=True)
class _CellResult:
    status: str  # passed / failed / error / timeout
    message: str = ""


def _first_line(text: str) -> str:
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _read_junit(path: Path) -> dict[int, _CellResult]:
    """Per nbval cell number: passed/failed/error/timeout and the first line of the failure."""
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        number = re.fullmatch(r"Cell (\d+)", case.get("name", ""))
        if number is None:
            continue
        problem = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
        if problem is None:
            result = _CellResult("passed")
        elif "timeout" in props:
            result = _CellResult("timeout", props["timeout"])
        elif "ename" in props:
            status = "failed" if props["ename"] == "AssertionError" else "error"
            message = f"{props['ename']}: {_first_line(props['evalue'])}".rstrip(": ")
            result = _CellResult(status, message)
        else:  # nbval itself failed (dead kernel, ...)
            result = _CellResult("error", _first_line(problem.get("message") or problem.tag))
        results[int(number[1])] = result
    return results


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill a process and all its descendants (the Jupyter kernel runs in a session of its own)."""
    import psutil  # a dependency of ipykernel, which grading needs anyway

    try:
        victims = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        victims = []
    for victim in victims:
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass
    process.kill()
    process.wait()
    psutil.wait_procs(victims, timeout=5)


def _run_nbval(notebook: Path, cell_timeout: float,
               notebook_timeout: float) -> tuple[Path | None, str]:
    """Run a graded copy with nbval in a subprocess: (junit path or None on timeout, pytest log)."""
    folder = notebook.parent
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    junit, log = folder / "junit.xml", folder / "pytest.log"
    junit.unlink(missing_ok=True)  # a kept workdir may hold the results of an earlier run
    command = [
        sys.executable, "-m", "pytest", notebook.name, "-q", "-c", "pytest.ini", "--rootdir", ".",
        "-p", "no:cacheprovider", "-p", __name__, "--nbval-lax", "--nbval-current-env",
        f"--nbval-cell-timeout={cell_timeout:g}", f"--junitxml={junit.name}",
    ]
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            process.wait(timeout=notebook_timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            junit = None
    return junit, log.read_text(encoding="utf-8", errors="replace")


def _exercise_row(student: str, label: str, checks: list[Check], roles: list[_Role],
                  results: dict[int, _CellResult]) -> GradeRow:
    """Sum the points of the passed checks of one exercise and pick its status."""
    missing = _CellResult("error", "the check cell did not run")
    outcome = {r.check: results.get(i, missing) for i, r in enumerate(roles) if r.check in checks}
    points = sum(check.points for check in checks if outcome[check].status == "passed")
    max_points = sum(check.points for check in checks)
    problems = [(check, outcome[check]) for check in checks if outcome[check].status != "passed"]
    if not problems:
        return GradeRow(student, label, points, max_points, "passed")
    statuses = {result.status for _, result in problems}
    cell_timeouts = [result for i, result in sorted(results.items()) if i < len(roles)
                     and result.status == "timeout" and roles[i] == _Role(label)]
    if cell_timeouts and "timeout" not in statuses:
        return GradeRow(student, label, points, max_points, "timeout",
                        f"a cell of this exercise: {cell_timeouts[0].message}")
    status = next(s for s in ("timeout", "error", "failed") if s in statuses)
    check, result = next((c, r) for c, r in problems if r.status == status)
    message = f"check {check.number}: {result.message}"
    return GradeRow(student, label, points, max_points, status, message)


def _read_submission(path: Path) -> nbformat.NotebookNode:
    """Read a submitted notebook; invalid JSON raises with its line and column."""
    text = path.read_text(encoding="utf-8")
    json.loads(text)
    return nbformat.reads(text, as_version=4)


def grade_notebook(path: Path | str, checks: dict[str, list[Check]], student: str, *,
                   cell_timeout: float = 300, notebook_timeout: float = 1800,
                   workdir: Path | str | None = None) -> list[GradeRow]:
    """Grade one submitted notebook (never modified) against the hidden checks.

    Args:
        path: the submitted ``.ipynb``.
        checks: :func:`load_checks` output.
        student: student id written in the gradebook.
        cell_timeout: seconds one cell may run (nbval ``--nbval-cell-timeout``).
        notebook_timeout: seconds the whole run may take (kernel start included).
        workdir: keep the graded copy, junit XML and pytest log here (default: a deleted temp dir).

    Returns:
        One :class:`GradeRow` per exercise of ``checks``; a broken submission gives rows too.
    """
    def whole(status: str, message: str) -> list[GradeRow]:
        return [GradeRow(student, label, 0, sum(c.points for c in cs), status, message)
                for label, cs in checks.items()]

    try:
        graded, roles = _graded_notebook(_read_submission(Path(path)), checks)
    except Exception as err:  # not UTF-8, invalid JSON, not a notebook, broken cells
        return whole("malformed", f"{type(err).__name__}: {_first_line(str(err))}")
    folder = Path(workdir or tempfile.mkdtemp(prefix="hybridlib-grade-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(graded, folder / "graded.ipynb")
        junit, log = _run_nbval(folder / "graded.ipynb", cell_timeout, notebook_timeout)
        if junit is None:
            return whole("timeout", f"the notebook ran longer than {notebook_timeout:g} s")
        if not junit.exists():
            tail = [line for line in log.splitlines() if line.strip()] or ["no output"]
            return whole("error", f"nbval could not run the notebook: {tail[-1]}")
        results = _read_junit(junit)
        return [_exercise_row(student, label, cs, roles, results) for label, cs in checks.items()]
    except Exception as err:  # a grader problem must not stop the other submissions
        return whole("error", f"grader error: {type(err).__name__}: {_first_line(str(err))}")
    finally:
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


def _submissions(root: Path) -> Iterator[tuple[str, Path]]:
    """``(student id, notebook)`` for every ``.ipynb`` under ``root`` (hidden folders skipped)."""
    notebooks = sorted(p for p in root.rglob("*.ipynb")
                       if not any(part.startswith(".") for part in p.relative_to(root).parts))
    per_folder = Counter(p.parent for p in notebooks)
    for p in notebooks:
        relative = p.relative_to(root)
        alone = p.parent != root and per_folder[p.parent] == 1
        yield (relative.parent if alone else relative.with_suffix("")).as_posix(), p


def grade_submissions(submissions: Path | str, checks: dict[str, list[Check]] | Path | str, *,
                      cell_timeout: float = 300, notebook_timeout: float = 1800, jobs: int = 1,
                      workdir: Path | str | None = None) -> list[GradeRow]:
    """Grade every notebook under ``submissions`` (arguments as in :func:`grade_notebook`).

    ``checks`` may also be the hidden-checks folder; ``jobs`` notebooks run at once; with
    ``workdir`` each student's graded copy, junit XML and log stay in ``workdir/<student>/``.
    """
    root = Path(submissions)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder not found: {root}")
    if not isinstance(checks, dict):
        checks = load_checks(checks)

    def grade(item: tuple[str, Path]) -> list[GradeRow]:
        student, path = item
        folder = Path(workdir) / re.sub(r"[^\w.-]+", "_", student) if workdir else None
        return grade_notebook(path, checks, student, cell_timeout=cell_timeout,
                              notebook_timeout=notebook_timeout, workdir=folder)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return [row for rows in pool.map(grade, list(_submissions(root))) for row in rows]


def write_gradebook(rows: Iterable[GradeRow], path: Path | str) -> Path:
    """Write the gradebook CSV: student, exercise, points, max_points, status, message."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(GRADEBOOK_COLUMNS)
        for r in rows:
            writer.writerow([r.student, r.exercise, f"{r.points:g}", f"{r.max_points:g}", r.status,
                             r.message])
    return path


# --------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.grading",
                                     description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    students = commands.add_parser("students", help="write student copies of solution notebooks")
    students.add_argument("notebooks", nargs="+", type=Path)
    students.add_argument("--out", type=Path, default=Path("students"))
    students.add_argument("--check", action="store_true",
                          help="write nothing; exit 1 if a copy is missing or stale")
    grade = commands.add_parser("grade", help="grade submitted notebooks into a gradebook CSV")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--out", type=Path, default=Path("grades.csv"))
    grade.add_argument("--checks", type=Path, default=Path("chapters/checks"),
                       help="hidden checks folder")
    grade.add_argument("--cell-timeout", type=float, default=300, help="seconds per cell")
    grade.add_argument("--timeout", type=float, default=1800, help="seconds per notebook")
    grade.add_argument("--jobs", type=int, default=1, help="notebooks graded at once")
    grade.add_argument("--keep", type=Path, default=None, help="keep graded copies and logs here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``students NOTEBOOK... --out DIR`` or ``grade SUBMISSIONS --out CSV``."""
    args = _parser().parse_args(argv)
    if args.command == "students":
        paths = write_student_copies(args.notebooks, args.out, check=args.check)
        if args.check:
            for path in paths:
                print(f"stale student copy: {path} (run without --check to rewrite it)")
            return int(bool(paths))
        for path in paths:
            print(f"student copy: {path}")
        return 0
    try:
        rows = grade_submissions(args.submissions, args.checks, cell_timeout=args.cell_timeout,
                                 notebook_timeout=args.timeout, jobs=args.jobs, workdir=args.keep)
    except (FileNotFoundError, ValueError) as err:  # no submissions folder, bad hidden checks
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_gradebook(rows, args.out)
    totals: dict[str, list[float]] = {}
    for r in rows:
        total = totals.setdefault(r.student, [0.0, 0.0])
        total[0] += r.points
        total[1] += r.max_points
    for student, (points, max_points) in totals.items():
        print(f"{student}: {points:g} / {max_points:g}")
    print(f"gradebook: {args.out} ({len(totals)} submissions)")
    return 0

