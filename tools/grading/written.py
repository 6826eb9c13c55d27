"""Written answers: exported for grading by hand, read back and merged into the totals.

A student's written answer to an exercise is every markdown cell of that exercise that is not
in the handed-out copy word for word (an edited placeholder, an added cell). Each grading run
writes a sheet (CSV) with one row per student and exercise that has a written part (``# %%
written points=N`` in its hidden checks): the answer, the rubric, the maximum, and empty
``points``/``comment`` columns for the instructor. The next run reads the sheet back first:
filled points count in the totals as long as the answer has not changed since (its sha256 is
in the sheet); a changed answer keeps the comment but asks for new points. An empty answer gets
0 points unless the instructor wrote something else.
"""
from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["SHEET_COLUMNS", "WrittenScore", "written_answers", "read_sheet", "score_written"]

SHEET_COLUMNS = ("student", "exercise", "max_points", "points", "comment", "answer", "rubric",
                 "answer_sha256", "note")


@dataclass(frozen=True)
class WrittenScore:
    """One row of the sheet after merging: the points that count (None: still to grade)."""

    student: str
    exercise: str
    max_points: float
    points: float | None
    comment: str
    answer: str
    rubric: str
    note: str = ""

    @property
    def sha(self) -> str:
        return _sha(self.answer)

    def row(self) -> list[str]:
        points = "" if self.points is None else f"{self.points:g}"
        return [self.student, self.exercise, f"{self.max_points:g}", points, self.comment,
                self.answer, self.rubric, self.sha, self.note]


def _sha(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def written_answers(nb: nbformat.NotebookNode, sections: list[str | None],
                    handed_out: nbformat.NotebookNode) -> dict[str, str]:
    """Per exercise label, the student's written answer (markdown not in the handed-out copy)."""
    given = {str(c.source).strip() for c in handed_out.cells if c.cell_type == "markdown"}
    answers: dict[str, list[str]] = {}
    for cell, section in zip(nb.cells, sections):
        text = str(cell.source).strip()
        if cell.cell_type == "markdown" and section and text and text not in given:
            answers.setdefault(section, []).append(text)
    return {label: "\n\n".join(parts) for label, parts in answers.items()}


def read_sheet(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The rows of an earlier sheet, keyed by ``(student, exercise)``; missing file: no rows.

    Raises:
        ValueError: the file is not a sheet this tool wrote (columns missing, duplicate rows).
    """
    if not path.exists():
        return {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"student", "exercise", "points", "comment", "answer_sha256"} - set(
                reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: not a written-answers sheet (missing columns "
                                 f"{sorted(missing)})")
            rows: dict[tuple[str, str], dict[str, str]] = {}
            for number, row in enumerate(reader, 2):
                key = (row["student"] or "", row["exercise"] or "")
                if key in rows:
                    raise ValueError(f"{path}:{number}: a second row for {key}")
                rows[key] = row
            return rows
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path}: unreadable ({err})") from None


def score_written(student: str, exercise: str, max_points: float, rubric: str, answer: str,
                  previous: dict[str, str] | None) -> WrittenScore:
    """Merge this run's answer with the instructor's earlier row (see the module docstring)."""
    comment = (previous or {}).get("comment", "") or ""
    text = ((previous or {}).get("points") or "").strip()
    same_answer = previous is not None and previous.get("answer_sha256") == _sha(answer)
    points, note = None, ""
    if text:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 <= value <= max_points):
            note = f"点数「{text}」が 0〜{max_points:g} の数ではありません。直してください"
        elif same_answer or not answer.strip():
            points = value
        else:
            note = f"前回の採点（{text} 点）のあと解答が変わりました。採点し直してください"
    elif not answer.strip():
        points, note = 0.0, "未回答"
    return WrittenScore(student, exercise, max_points, points, comment, answer, rubric, note)
