"""Command line of the grading tools.

::

    python -m tools.grading students chapters/05_8_exercises.ipynb --out students [--check]
    python -m tools.grade SUBMISSIONS/ --out grades.csv [--jobs 2] [--keep DIR]
        [--checks chapters/checks] [--solution chapters/05_8_exercises.ipynb]
        [--profile ci] [--cache DIR] [--cell-timeout 300] [--timeout 900]

(``python -m tools.grading grade ...`` is the same as ``python -m tools.grade ...``.) Every
argument is checked before grading starts: a bad ``--out``, timeout or submissions folder stops
the command (exit 2) before anything runs, and nothing is written when no submission is found.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .checks import load_checks
from .gradebook import gradebook_paths, write_gradebook
from .session import GradingError, grade_submissions
from .student import write_student_copies
from .submissions import find_submissions
from .written import read_sheet

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]


class _UsageError(ValueError):
    """An argument that would make grading fail or lose results."""


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--jobs must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.grading",
        description="Student copies and grading of exercise notebooks.")
    commands = parser.add_subparsers(dest="command", required=True)
    students = commands.add_parser("students", help="write student copies of solution notebooks")
    students.add_argument("notebooks", nargs="+", type=Path)
    students.add_argument("--out", type=Path, default=Path("students"))
    students.add_argument("--check", action="store_true",
                          help="write nothing; exit 1 if a copy is missing or stale")
    grade = commands.add_parser("grade", help="grade submitted notebooks into a gradebook")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--out", type=Path, default=Path("grades.csv"),
                       help="gradebook CSV; the other files go next to it")
    grade.add_argument("--checks", type=Path, default=ROOT / "chapters" / "checks",
                       help="hidden checks folder")
    grade.add_argument("--solution", type=Path, default=ROOT / "chapters" / "05_8_exercises.ipynb",
                       help="reference solution notebook")
    grade.add_argument("--profile", default="ci", choices=("ci", "book", "full"),
                       help="hybridlib profile of every kernel (default ci)")
    grade.add_argument("--cache", type=Path, default=None,
                       help="grading cache (default: <hybridlib cache>/grading/<profile>)")
    grade.add_argument("--cell-timeout", type=_positive, default=300, help="seconds per cell")
    grade.add_argument("--timeout", type=_positive, default=900, help="seconds per exercise")
    grade.add_argument("--jobs", type=_jobs, default=1, help="exercises graded at once")
    grade.add_argument("--keep", type=Path, default=None, help="keep graded copies and logs here")
    return parser


def _writable_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise _UsageError(f"{what} {path} is a folder, not a file")
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".grading-write-test-"):
            pass
    except OSError as err:
        raise _UsageError(f"cannot write {what} {path}: {err.strerror or err}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise _UsageError(f"cannot write {what} {path}: permission denied")


def _validate(args: argparse.Namespace) -> dict:
    """Check every argument of ``grade``; return the earlier written-answers sheet."""
    if not args.submissions.is_dir():
        raise _UsageError(f"submissions folder not found: {args.submissions}")
    if not find_submissions(args.submissions)[0]:
        raise _UsageError(f"no submitted notebook (*.ipynb) under {args.submissions}; "
                          "nothing was written")
    if args.out.suffix.lower() != ".csv":
        raise _UsageError(f"--out must name a .csv file, not {args.out}")
    paths = gradebook_paths(args.out)
    for path in (paths.summary, paths.exercises, paths.checks, paths.stats, paths.written):
        _writable_file(path, "gradebook file")
    if paths.feedback.exists() and not paths.feedback.is_dir():
        raise _UsageError(f"{paths.feedback} exists and is not a folder")
    submissions = args.submissions.resolve()
    for path, what in ((args.out, "--out"), (args.keep, "--keep")):
        if path is not None and path.resolve().is_relative_to(submissions):
            raise _UsageError(f"{what} {path} lies inside the submissions folder; put it elsewhere")
    if args.timeout < args.cell_timeout:
        raise _UsageError(f"--timeout ({args.timeout:g} s per exercise) is shorter than "
                          f"--cell-timeout ({args.cell_timeout:g} s per cell)")
    if not args.solution.is_file():
        raise _UsageError(f"reference solution not found: {args.solution}")
    load_checks(args.checks)
    return read_sheet(paths.written)


def _grade(args: argparse.Namespace) -> int:
    try:
        previous = _validate(args)
        run = grade_submissions(args.submissions, checks=args.checks, solution=args.solution,
                                profile=args.profile, cache=args.cache,
                                cell_timeout=args.cell_timeout, timeout=args.timeout,
                                jobs=args.jobs, keep=args.keep, previous_written=previous)
    except (_UsageError, GradingError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = write_gradebook(run.results, args.out, run.labels, run.reference.titles)
    for note in run.notes:
        print(f"note: {note}")
    for r in run.results:
        pending = f", {r.written_pending} written answer(s) to grade" if r.written_pending else ""
        print(f"{r.student}: {r.points:g} / {r.max_points:g}{pending}")
    seconds = [r.seconds for r in run.results if r.seconds]
    per_student = f", {statistics.fmean(seconds):.0f} s of kernels per student" if seconds else ""
    print(f"gradebook: {paths.summary} ({len(run.results)} submissions; reference "
          f"{run.reference.seconds:.0f} s, total {run.seconds:.0f} s{per_student})")
    print(f"feedback: {paths.feedback}/, written answers to grade: {paths.written}")
    return 0


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
    return _grade(args)
