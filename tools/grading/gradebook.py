"""The gradebook: totals, per-exercise and per-check tables, statistics, written-answer sheet,
one feedback file per student — all written atomically, next to ``--out``.

For ``--out grades.csv`` the files are:

``grades.csv``
    one row per student: total and maximum, automatic and written parts, the number of written
    answers still to grade, and the points of every exercise;
``grades-exercises.csv`` / ``grades-checks.csv``
    one row per student and exercise / hidden check, with status and Japanese message;
``grades-stats.csv``
    per exercise: maximum, mean, median, minimum, maximum reached, how many got full marks or 0,
    and how many ended in each status;
``grades-written.csv``
    the written answers to grade by hand (:mod:`tools.grading.written`);
``grades-feedback/<student>.md``
    what each student gets back: every check with its result and reason, notes, written parts.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .outcomes import STATUS_NAMES, STATUSES, ExerciseResult
from .submissions import safe_name
from .written import SHEET_COLUMNS, WrittenScore

__all__ = ["StudentResult", "GradebookPaths", "gradebook_paths", "write_gradebook",
           "feedback_text"]


@dataclass
class StudentResult:
    """Everything graded for one submission."""

    student: str
    path: str
    exercises: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)
    malformed: str = ""
    seconds: float = 0.0
    written: list[WrittenScore] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_points(self) -> float:
        return sum(e.max_points for e in self.exercises)

    @property
    def auto_points(self) -> float:
        return sum(e.auto_points for e in self.exercises)

    @property
    def written_pending(self) -> int:
        return sum(e.written_max > 0 and e.written_points is None for e in self.exercises)


@dataclass(frozen=True)
class GradebookPaths:
    """The files of one gradebook."""

    summary: Path
    exercises: Path
    checks: Path
    stats: Path
    written: Path
    feedback: Path


def gradebook_paths(out: Path | str) -> GradebookPaths:
    """The gradebook files that go with ``--out`` (see the module docstring)."""
    out = Path(out)
    stem = out.with_suffix("")
    return GradebookPaths(out, Path(f"{stem}-exercises.csv"), Path(f"{stem}-checks.csv"),
                          Path(f"{stem}-stats.csv"), Path(f"{stem}-written.csv"),
                          Path(f"{stem}-feedback"))


def _n(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _summary(results: list[StudentResult], labels: list[str]) -> str:
    header = ["student", "points", "max_points", "auto_points", "auto_max", "written_points",
              "written_max", "written_pending", *labels]
    rows = []
    for r in results:
        by_label = {e.label: e for e in r.exercises}
        rows.append([r.student, _n(r.points), _n(r.max_points), _n(r.auto_points),
                     _n(sum(e.auto_max for e in r.exercises)),
                     _n(sum(e.written_points or 0 for e in r.exercises)),
                     _n(sum(e.written_max for e in r.exercises)), r.written_pending,
                     *[_n(by_label[label].points) for label in labels]])
    return _csv(header, rows)


def _exercises(results: list[StudentResult]) -> str:
    header = ["student", "exercise", "points", "max_points", "auto_points", "auto_max",
              "written_points", "written_max", "status", "message", "notes"]
    rows = [[r.student, e.label, _n(e.points), _n(e.max_points), _n(e.auto_points),
             _n(e.auto_max), _n(e.written_points) if e.written_max else "", _n(e.written_max),
             e.status, e.message, " / ".join(e.notes)]
            for r in results for e in r.exercises]
    return _csv(header, rows)


def _checks(results: list[StudentResult]) -> str:
    header = ["student", "exercise", "check", "title", "points", "max_points", "status",
              "message"]
    rows = [[r.student, e.label, c.check.number, c.check.title, _n(c.points),
             _n(c.check.points), c.status, c.message]
            for r in results for e in r.exercises for c in e.checks]
    return _csv(header, rows)


def _stats(results: list[StudentResult], labels: list[str]) -> str:
    header = ["exercise", "max_points", "students", "mean", "median", "min", "max",
              "full_marks", "zero", *STATUSES, "written_pending"]
    rows = []
    for label in labels:
        found = [e for r in results for e in r.exercises if e.label == label]
        if not found:
            continue
        points = [e.points for e in found]
        top = found[0].max_points
        rows.append([label, _n(top), len(found), f"{statistics.fmean(points):.3g}",
                     _n(statistics.median(points)), _n(min(points)), _n(max(points)),
                     sum(p == top for p in points), sum(p == 0 for p in points),
                     *[sum(e.status == s for e in found) for s in STATUSES],
                     sum(e.written_max > 0 and e.written_points is None for e in found)])
    return _csv(header, rows)


def _written(results: list[StudentResult]) -> str:
    return _csv(list(SHEET_COLUMNS), [w.row() for r in results for w in r.written])


def feedback_text(result: StudentResult, titles: dict[str, str]) -> str:
    """The Japanese feedback a student gets back (Markdown)."""
    lines = [f"# 採点結果：{result.student}", "", f"提出物：`{result.path}`", ""]
    written_max = sum(e.written_max for e in result.exercises)
    parts = f"自動採点 {result.auto_points:g} / {sum(e.auto_max for e in result.exercises):g} 点"
    if written_max:
        written = sum(e.written_points or 0 for e in result.exercises)
        parts += f"、記述 {written:g} / {written_max:g} 点"
        if result.written_pending:
            parts += f"（未採点 {result.written_pending} 件）"
    lines += [f"合計：**{result.points:g} / {result.max_points:g} 点**（{parts}）", ""]
    if result.malformed:
        lines += [f"提出物をノートブックとして読めませんでした（{result.malformed}）。"
                  "ファイルが壊れていないか確かめて、提出し直してください。", ""]
    for e in result.exercises:
        title = titles.get(e.label, "")
        lines += [f"## {e.label}{'：' + title if title else ''}（{e.points:g} / {e.max_points:g} 点）",
                  ""]
        for c in e.checks:
            mark = "✅" if c.status == "passed" else "❌"
            line = (f"- {mark} チェック {c.check.number}（{c.check.points:g} 点）：{c.check.title}"
                    f" — {STATUS_NAMES[c.status]}")
            lines.append(line + (f"。{c.message}" if c.message else ""))
        if e.written_max:
            got = "未採点" if e.written_points is None else f"{e.written_points:g} 点"
            got += f"（{e.written_note}）" if e.written_note else ""
            score = next((w for w in result.written if w.exercise == e.label), None)
            comment = f"：{score.comment}" if score and score.comment else ""
            lines.append(f"- 記述（{e.written_max:g} 点）：{got}{comment}")
        lines += [f"- 注意：{note}" for note in e.notes]
        lines.append("")
    if result.notes:
        lines += ["## そのほか", ""] + [f"- {note}" for note in result.notes] + [""]
    return "\n".join(lines)


def _replace_folder(target: Path, files: dict[str, str]) -> None:
    fresh = target.with_name(f".{target.name}.{os.getpid()}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    for name, text in files.items():
        (fresh / name).write_text(text, encoding="utf-8")
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    if target.exists():
        target.replace(old)
    fresh.replace(target)
    shutil.rmtree(old, ignore_errors=True)


def write_gradebook(results: list[StudentResult], out: Path | str, labels: list[str],
                    titles: dict[str, str] | None = None) -> GradebookPaths:
    """Write every gradebook file for ``results``; each file appears whole or not at all."""
    paths = gradebook_paths(out)
    texts = {paths.summary: _summary(results, labels), paths.exercises: _exercises(results),
             paths.checks: _checks(results), paths.stats: _stats(results, labels),
             paths.written: _written(results)}
    paths.summary.parent.mkdir(parents=True, exist_ok=True)
    temporary = {}
    try:
        for path, text in texts.items():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            temporary[path] = tmp
        feedback = {f"{safe_name(r.student)}.md": feedback_text(r, titles or {}) for r in results}
        _replace_folder(paths.feedback, feedback)
        for path, tmp in temporary.items():
            tmp.replace(path)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)
    return paths
