"""Hidden-check files: ``CHECKS/LABEL.py``, one per graded exercise (never in a student copy).

A file is a docstring followed by cells, each starting with a marker line:

``# %% points=N [atol=A] [rtol=R]``
    One check worth ``N`` points. Its first comment line says in Japanese what it checks (the
    gradebook and the feedback show it). The code runs in the student's kernel, after the
    student's cells, inside a function of its own; the value of its **last expression** is sent
    to the grader as plain data (numbers, strings, lists, dicts, arrays). The grader runs the
    same check on the reference solution in a clean kernel and compares the two values: numbers
    within ``atol``/``rtol`` (default 1e-9 / 1e-7), everything else exactly.
``# %% verdict``
    Optional, right after a check: Python run by the grader, not in the kernel, replacing that
    comparison. It sees ``got`` (the student's value) and ``expected`` (the reference's), with
    arrays as ``numpy`` arrays, plus ``np`` and ``same(a, b, atol=..., rtol=...)``; each
    ``assert`` carries a Japanese message for the feedback. The reference value must pass it.
``# %% written points=N``
    Optional, once: the written part of the exercise, graded by hand. Its comment lines are the
    rubric shown to the instructor next to each student's answer.

Because the kernel only ever sends values, nothing in a check's kernel code is a verdict: a
student who patches ``numpy``, hooks exceptions or returns objects that equal everything still
has to produce the reference's values.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "Written", "ExerciseChecks", "load_checks", "DEFAULT_ATOL", "DEFAULT_RTOL"]

DEFAULT_ATOL, DEFAULT_RTOL = 1e-9, 1e-7
_MARKER = re.compile(r"^# %%(?P<attrs>.*)$")
_ATTR = re.compile(r"^(\w+)=(\S+)$")


@dataclass(frozen=True)
class Check:
    """One hidden check: ``points`` if the student's value matches the reference's."""

    exercise: str
    number: int
    points: float
    title: str
    source: str
    verdict: str | None
    atol: float
    rtol: float
    origin: str


@dataclass(frozen=True)
class Written:
    """The written part of an exercise, graded by hand against ``rubric``."""

    exercise: str
    points: float
    rubric: str
    origin: str


@dataclass(frozen=True)
class ExerciseChecks:
    """Everything graded in one exercise."""

    label: str
    checks: tuple[Check, ...]
    written: Written | None = None

    @property
    def auto_points(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def written_points(self) -> float:
        return self.written.points if self.written else 0.0

    @property
    def max_points(self) -> float:
        return self.auto_points + self.written_points


def _natural_key(label: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def _number(origin: str, key: str, text: str, positive: bool = True) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{origin}: {key}={text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{origin}: {key} must be a {'positive' if positive else 'non-negative'}"
                         " finite number")
    return value


def _attributes(origin: str, text: str) -> tuple[str, dict[str, str]]:
    words = text.split()
    kind = "check"
    if words and words[0] in ("verdict", "written"):
        kind, words = words[0], words[1:]
    attrs = {}
    for word in words:
        match = _ATTR.match(word)
        if match is None:
            raise ValueError(f"{origin}: a cell starts with '# %% points=N', '# %% verdict' or "
                             f"'# %% written points=N', not '# %%{text}'")
        attrs[match[1]] = match[2]
    allowed = {"check": {"points", "atol", "rtol"}, "verdict": set(), "written": {"points"}}[kind]
    if set(attrs) - allowed or (kind != "verdict" and "points" not in attrs):
        raise ValueError(f"{origin}: '# %%{text}' needs points=N"
                         + (f" and only {sorted(allowed)}" if allowed else
                            " (verdict: no options)"))
    return kind, attrs


def _parse(origin: str, source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"{origin}: not valid Python ({err.msg}, line {err.lineno})") from None


def _comment_lines(source: str) -> list[str]:
    return [line.strip()[1:].strip() for line in source.splitlines()
            if line.strip().startswith("#")]


def _parse_check_file(path: Path) -> ExerciseChecks:
    lines = path.read_text(encoding="utf-8").split("\n")
    starts = [i for i, line in enumerate(lines) if _MARKER.match(line)]
    if not starts:
        raise ValueError(f"{path}: no '# %% points=N' check cell")
    preamble = _parse(str(path), "\n".join(lines[: starts[0]]))
    if any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
           for n in preamble.body):
        raise ValueError(f"{path}: code before the first '# %%' marker never runs; "
                         "move it into a check")
    checks: list[Check] = []
    written: Written | None = None
    previous: str | None = None  # origin of the cell before, if it was a check
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        origin = f"{path}:{start + 1}"
        kind, attrs = _attributes(origin, _MARKER.match(lines[start])["attrs"])
        source = "\n".join(lines[start + 1 : end]).strip("\n")
        if kind == "written":
            if written is not None:
                raise ValueError(f"{origin}: a second '# %% written' cell")
            rubric = "\n".join(_comment_lines(source))
            if not rubric:
                raise ValueError(f"{origin}: the written part needs a rubric (comment lines)")
            written = Written(path.stem, _number(origin, "points", attrs["points"]), rubric,
                              origin)
            previous = None
            continue
        tree = _parse(origin, source)
        if not tree.body:
            raise ValueError(f"{origin}: empty {kind} cell")
        if kind == "verdict":
            if not checks or checks[-1].verdict is not None or checks[-1].origin != previous:
                raise ValueError(f"{origin}: a verdict must follow its check directly")
            checks[-1] = Check(**{**checks[-1].__dict__, "verdict": source})
            previous = origin
            continue
        if not isinstance(tree.body[-1], ast.Expr):
            raise ValueError(f"{origin}: a check ends with an expression, the value sent to the "
                             "grader")
        titles = _comment_lines(source)
        if not titles:
            raise ValueError(f"{origin}: a check starts with a comment saying what it checks")
        checks.append(Check(
            exercise=path.stem, number=len(checks) + 1,
            points=_number(origin, "points", attrs["points"]), title=titles[0], source=source,
            verdict=None, atol=_number(origin, "atol", attrs.get("atol", str(DEFAULT_ATOL)), False),
            rtol=_number(origin, "rtol", attrs.get("rtol", str(DEFAULT_RTOL)), False),
            origin=origin))
        previous = origin
    if not checks and written is None:
        raise ValueError(f"{path}: neither a check nor a written part")
    return ExerciseChecks(path.stem, tuple(checks), written)


def load_checks(directory: Path | str) -> dict[str, ExerciseChecks]:
    """Hidden checks of every exercise, ``{label: ExerciseChecks}``, from ``directory/LABEL.py``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"hidden checks folder not found: {directory}")
    files = sorted(directory.glob("*.py"), key=lambda p: _natural_key(p.stem))
    if not files:
        raise FileNotFoundError(f"no hidden checks (LABEL.py files) in {directory}")
    return {path.stem: _parse_check_file(path) for path in files}
