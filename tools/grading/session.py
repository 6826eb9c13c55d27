"""One grading run: the reference values first, then every exercise of every submission.

1. The reference solution runs, exercise by exercise, in clean kernels with the hidden checks;
   the values it emits are kept in memory only (never on disk, where a student's kernel could
   read them). It also fills the grading cache (the run registry the exercises read). If the
   reference fails a check, grading stops: the grades would mean nothing.
2. Each submission is split into one graded copy per exercise (:mod:`tools.grading.graded`),
   run in a kernel of its own with a private home and a private copy of the grading cache
   (:mod:`tools.grading.runner`), so an exercise that hangs, crashes or kills its kernel costs
   that exercise only, and no student can change what another student's kernel reads.
3. The values each check emitted are judged against the reference's (:mod:`tools.grading.verdict`).
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .checks import ExerciseChecks, load_checks
from .graded import GradedCopy, check_cell_notes, graded_copy
from .gradebook import StudentResult
from .notebook import (EXERCISE_KEY, exercise_labels, exercise_titles, read_notebook,
                       solution_places, submission_sections)
from .outcomes import (CheckResult, ExerciseResult, cell_notes, check_results, check_values,
                       own_cell_timed_out)
from .runner import KernelSetup, prepare_home, run_graded
from .student import make_student_copy
from .submissions import Submission, find_submissions, safe_name
from .verdict import judge
from .written import score_written, written_answers

__all__ = ["GradingError", "GradingRun", "Reference", "default_cache", "grade_submissions"]


class GradingError(RuntimeError):
    """Grading cannot start or cannot be trusted (bad checks, a failing reference, ...)."""


def default_cache(profile: str) -> Path:
    """The grading cache of ``profile``: ``<hybridlib cache>/grading/<profile>``."""
    from hybridlib.data.paths import cache_dir

    return cache_dir() / "grading" / profile


@dataclass(frozen=True)
class Reference:
    """What every submission is graded against."""

    exercises: dict[str, ExerciseChecks]
    titles: dict[str, str]
    handed_out: nbformat.NotebookNode
    handed_out_sections: list[str | None]
    expected: dict[tuple[str, int], Any]
    seconds: float


@dataclass
class GradingRun:
    """The results of a grading run, and what was noticed on the way."""

    results: list[StudentResult]
    notes: list[str]
    reference: Reference
    seconds: float = 0.0

    @property
    def labels(self) -> list[str]:
        return list(self.reference.exercises)


@dataclass
class _Limits:
    profile: str
    cache: Path
    cell_timeout: float
    timeout: float
    jobs: int


def _run_copies(copies: list[tuple[Any, GradedCopy]], jobs: int,
                setup_for: Callable[[Any], KernelSetup], folder_for: Callable[[Any, str], Path],
                done: Callable[[Any], None], *, cell_timeout: float, timeout: float):
    """Run graded copies in parallel; yields ``(owner, copy, run)`` in input order."""
    def one(item):
        owner, copy = item
        run = run_graded(copy.notebook, folder_for(owner, copy.label), setup_for(owner),
                         cell_timeout=cell_timeout, timeout=timeout)
        done(owner)
        return owner, copy, run

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        yield from pool.map(one, copies)


def _prepare_reference(solution: Path, checks: Path, limits: _Limits, work: Path) -> Reference:
    """Run the reference solution with the hidden checks; keep its values in memory."""
    start = time.monotonic()
    exercises = load_checks(checks)
    try:
        nb = read_notebook(solution)
    except (OSError, ValueError) as err:
        raise GradingError(f"cannot read the reference solution {solution}: {err}") from None
    unknown = sorted(set(exercises) - set(exercise_labels(nb)))
    if unknown:
        raise GradingError(f"hidden checks for exercises the solution {solution} does not have: "
                           f"{unknown}")
    sections = [place.exercise for place in solution_places(nb)]
    home = work / "reference-home"
    prepare_home(home)
    setup = KernelSetup(limits.profile, limits.cache, home)
    copies = [(None, graded_copy(nb, sections, exercise)) for exercise in exercises.values()
              if exercise.checks]
    expected, problems = {}, []
    runs = _run_copies(copies, limits.jobs, lambda _: setup,
                       lambda _, label: work / "reference" / label, lambda _: None,
                       cell_timeout=limits.timeout, timeout=3 * limits.timeout)
    for _, copy, run in runs:
        for check, value, problem in check_values(copy, run, 3 * limits.timeout):
            if problem is None:
                reason = judge(check, value, value)
                problem = None if reason is None else ("failed", reason)
            if problem:
                problems.append(f"{check.origin}: {problem[1]}")
            else:
                expected[check.exercise, check.number] = value
    shutil.rmtree(work / "reference", ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    if problems:
        raise GradingError("the reference solution does not pass its own hidden checks "
                           "(fix the check or the solution):\n  " + "\n  ".join(problems))
    handed_out = make_student_copy(nb)
    return Reference(exercises, exercise_titles(nb), handed_out,
                     [cell.metadata.get(EXERCISE_KEY) for cell in handed_out.cells], expected,
                     time.monotonic() - start)


@dataclass
class _Student:
    """One submission while it is being graded."""

    submission: Submission
    folder: Path
    master_cache: Path
    profile: str
    pending: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: bool = False
    seconds: float = 0.0

    def setup(self) -> KernelSetup:
        """The student's private home and cache copy, made when the first exercise starts."""
        with self.lock:
            if not self.ready:
                prepare_home(self.folder / "home")
                cache = self.folder / "cache"
                shutil.rmtree(cache, ignore_errors=True)
                if self.master_cache.is_dir():
                    shutil.copytree(self.master_cache, cache, symlinks=False)
                cache.mkdir(parents=True, exist_ok=True)
                self.ready = True
        return KernelSetup(self.profile, self.folder / "cache", self.folder / "home")

    def finished_one(self) -> None:
        """Drop the private home and cache once every exercise has run."""
        with self.lock:
            self.pending -= 1
            if self.pending == 0:
                shutil.rmtree(self.folder / "cache", ignore_errors=True)
                shutil.rmtree(self.folder / "home", ignore_errors=True)


def _malformed(submission: Submission, reference: Reference, reason: str) -> StudentResult:
    message = f"ノートブックとして読めません（{reason}）"
    exercises = [ExerciseResult(label, [CheckResult(c, "malformed", message) for c in ex.checks],
                                written_max=ex.written_points,
                                written_points=0.0 if ex.written else None)
                 for label, ex in reference.exercises.items()]
    return StudentResult(submission.student, submission.relative, exercises, malformed=reason)


def grade_submissions(submissions: Path | str, *, checks: Path | str, solution: Path | str,
                      profile: str = "ci", cache: Path | str | None = None,
                      cell_timeout: float = 300, timeout: float = 900, jobs: int = 1,
                      keep: Path | str | None = None,
                      previous_written: dict[tuple[str, str], dict[str, str]] | None = None,
                      ) -> GradingRun:
    """Grade every notebook under ``submissions`` (see the module docstring).

    Args:
        submissions: the folder of submitted notebooks (never modified).
        checks: the hidden-checks folder; solution: the reference solution notebook.
        profile: hybridlib profile of every kernel; cache: the grading cache (default
            :func:`default_cache`).
        cell_timeout: seconds one cell may run; timeout: seconds one exercise may run.
        jobs: exercises run at once; keep: keep graded copies and logs in ``keep/<student>/``.
        previous_written: rows of an earlier written-answers sheet to merge.
    """
    start = time.monotonic()
    root = Path(submissions)
    found, notes = find_submissions(root)
    if not found:
        raise GradingError(f"no submitted notebook (*.ipynb) under {root}")
    limits = _Limits(profile, Path(cache) if cache else default_cache(profile), cell_timeout,
                     timeout, jobs)
    limits.cache.mkdir(parents=True, exist_ok=True)
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="hybridlib-grade-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o700)
    try:
        reference = _prepare_reference(Path(solution), Path(checks), limits, work)
        results = _grade_all(found, reference, limits, work, previous_written or {})
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return GradingRun(results, notes, reference, time.monotonic() - start)


def _grade_all(found: list[Submission], reference: Reference, limits: _Limits, work: Path,
               previous_written: dict) -> list[StudentResult]:
    shared = [str(c.source) for c in reference.handed_out.cells
              if c.metadata.get(EXERCISE_KEY) is None]
    graded: dict[str, dict] = {}
    results: dict[str, StudentResult] = {}
    copies: list[tuple[_Student, GradedCopy]] = []
    for submission in found:
        try:
            nb = read_notebook(submission.path)
        except (OSError, ValueError) as err:
            results[submission.student] = _malformed(submission, reference, str(err))
            continue
        sections = submission_sections(nb, shared)
        student = _Student(submission, work / safe_name(submission.student), limits.cache,
                           limits.profile)
        graded[submission.student] = {
            "student": student, "nb": nb, "sections": sections,
            "notes": check_cell_notes(nb, sections, reference.handed_out,
                                      reference.handed_out_sections),
            "answers": written_answers(nb, sections, reference.handed_out), "runs": {}}
        for exercise in reference.exercises.values():
            if exercise.checks:
                copies.append((student, graded_copy(nb, sections, exercise)))
                student.pending += 1
        if not any(s in reference.exercises for s in sections):
            graded[submission.student]["general"] = [
                "どの演習のセルか分かりませんでした（演習の見出しやセルのメタデータが消えています）。"
                "各演習は最後のセルのあとで採点しました。"]
    runs = _run_copies(copies, limits.jobs, _Student.setup,
                       lambda s, label: s.folder / label, _Student.finished_one,
                       cell_timeout=limits.cell_timeout, timeout=limits.timeout)
    for student, copy, run in runs:
        entry = graded[student.submission.student]
        student.seconds += run.seconds
        entry["runs"][copy.label] = (copy, run)
    for name, entry in graded.items():
        results[name] = _student_result(entry, reference, limits, previous_written)
    return [results[s.student] for s in found]


def _student_result(entry: dict, reference: Reference, limits: _Limits,
                    previous_written: dict) -> StudentResult:
    student: _Student = entry["student"]
    name = student.submission.student
    exercises, written = [], []
    for label, exercise in reference.exercises.items():
        result = ExerciseResult(label, [], written_max=exercise.written_points)
        if label in entry["runs"]:
            copy, run = entry["runs"][label]
            result.checks = check_results(copy, run, reference.expected, limits.timeout)
            result.notes += cell_notes(copy, run)
            if run.attempts > 1 and run.started is not None:
                result.notes.append(f"採点用のカーネルが起動しなかったため、{run.attempts} 回目の起動で"
                                    "採点しました（提出物とは関係がなく、点数も変わりません）")
            result.timed_out = run.killed or own_cell_timed_out(copy, run, entry["sections"])
            result.seconds = run.seconds
        result.notes += entry["notes"].get(label, [])
        if exercise.written:
            score = score_written(name, label, exercise.written.points, exercise.written.rubric,
                                  entry["answers"].get(label, ""),
                                  previous_written.get((name, label)))
            written.append(score)
            result.written_points = score.points
            result.written_note = score.note
        exercises.append(result)
    return StudentResult(name, student.submission.relative, exercises,
                         notes=entry.get("general", []), seconds=student.seconds,
                         written=written)
