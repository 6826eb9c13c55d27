"""From an nbval run to results: each hidden check's value, verdict, points and message.

Statuses: ``passed`` (the value matches the reference), ``failed`` (a value arrived and does not
match), ``error`` (the check raised, or no readable value arrived — a hook that swallows
exceptions or output ends here), ``timeout`` (the check, the exercise's run, or one of the
exercise's own cells ran past its limit), ``malformed`` (the submission is not a readable
notebook); an exercise with a written part only is ``written``. Messages are Japanese.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .checks import Check
from .emission import EmissionError, decode
from .graded import GradedCopy
from .runner import RunResult
from .verdict import judge

__all__ = ["STATUSES", "STATUS_NAMES", "CheckResult", "ExerciseResult", "check_values",
           "check_results", "exercise_status"]

STATUSES = ("passed", "failed", "error", "timeout", "malformed", "written")
STATUS_NAMES = {"passed": "合格", "failed": "不正解", "error": "エラー", "timeout": "時間切れ",
                "malformed": "読めない提出物", "written": "記述のみ（手で採点）"}


@dataclass(frozen=True)
class CheckResult:
    """The result of one hidden check for one student."""

    check: Check
    status: str
    message: str = ""

    @property
    def points(self) -> float:
        return self.check.points if self.status == "passed" else 0.0


@dataclass
class ExerciseResult:
    """Everything graded in one exercise of one student."""

    label: str
    checks: list[CheckResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    written_points: float | None = None    # filled by the instructor (None: not yet)
    written_max: float = 0.0
    written_note: str = ""
    timed_out: bool = False                 # one of the exercise's own cells timed out

    @property
    def auto_points(self) -> float:
        return sum(result.points for result in self.checks)

    @property
    def auto_max(self) -> float:
        return sum(result.check.points for result in self.checks)

    @property
    def points(self) -> float:
        return self.auto_points + (self.written_points or 0.0)

    @property
    def max_points(self) -> float:
        return self.auto_max + self.written_max

    @property
    def status(self) -> str:
        if not self.checks:
            return "written"
        status = exercise_status([result.status for result in self.checks])
        return "timeout" if status in ("error", "failed") and self.timed_out else status

    @property
    def message(self) -> str:
        """Every problem of the exercise, one Japanese sentence per failed check."""
        return " / ".join(f"チェック {r.check.number}（{r.check.title}）: {r.message}"
                          for r in self.checks if r.status != "passed")


def exercise_status(statuses: list[str]) -> str:
    """``passed`` if every check passed, else the gravest status among them."""
    for status in ("malformed", "timeout", "error", "failed"):
        if status in statuses:
            return status
    return "passed"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def _missing(run: RunResult, timeout: float) -> tuple[str, str]:
    if run.killed and run.started is None:
        return "timeout", "カーネルが制限時間内に起動しなかったため、実行されませんでした"
    if run.killed:
        return "timeout", f"この演習の実行が制限時間（{timeout:g} 秒）を超えたため、実行されませんでした"
    if run.kernel_died is not None:
        return "error", "カーネルが途中で停止したため、実行されませんでした（os._exit などを使っていませんか）"
    if run.started is None:
        why = f"：{run.setup_problem}" if run.setup_problem else ""
        return "error", (f"採点用のカーネルが {run.attempts} 回とも起動しなかったため、実行されません"
                         f"でした（提出物ではなく採点環境の問題です{why}）")
    return "error", "このチェックは実行されませんでした（カーネルが起動しなかったか、途中で停止しました）"


def check_values(copy: GradedCopy, run: RunResult,
                 timeout: float) -> list[tuple[Check, Any, tuple[str, str] | None]]:
    """Per hidden check: ``(check, value, None)``, or ``(check, None, (status, message))``."""
    out = []
    for cell, role in enumerate(copy.roles):
        if role.kind != "check":
            continue
        record = run.records.get(cell)
        problem = None
        if record is None:
            problem = _missing(run, timeout)
        elif record.timeout:
            problem = ("timeout", "チェックの実行がセルの制限時間を超えました")
        elif not record.passed:
            if record.ename and record.ename != "KeyboardInterrupt":
                problem = ("error", f"例外 {record.ename}: {_first_line(record.evalue)}".rstrip(": "))
            elif record.skipped:
                problem = ("timeout", "前のセルが時間切れになったため、実行されませんでした")
            else:
                problem = ("error", f"実行できませんでした（{_first_line(record.problem)}）")
        if problem is None:
            lines = [line[len(role.marker):] for line in record.emitted
                     if line.startswith(role.marker)]
            if not lines:
                problem = ("error", "チェックの値が届きませんでした（出力や例外の扱いを書き換える"
                                    "コードがあると、この状態になります）")
            elif len(lines) > 1:
                problem = ("error", "チェックの値が複数届きました（出力を書き換えるコードがあります）")
            else:
                try:
                    out.append((role.check, decode(lines[0]), None))
                    continue
                except EmissionError as err:
                    problem = ("error", f"チェックの値が読めません（{err}）")
        out.append((role.check, None, problem))
    return out


def check_results(copy: GradedCopy, run: RunResult, expected: dict[tuple[str, int], Any],
                  timeout: float) -> list[CheckResult]:
    """Verdict of every hidden check of a graded copy against the reference values."""
    results = []
    for check, value, problem in check_values(copy, run, timeout):
        if problem is None:
            reason = judge(check, value, expected[check.exercise, check.number])
            problem = None if reason is None else ("failed", reason)
        results.append(CheckResult(check, *problem) if problem else CheckResult(check, "passed"))
    return results


def own_cell_timed_out(copy: GradedCopy, run: RunResult, sections: list[str | None]) -> bool:
    """Whether a cell of the exercise itself (not a shared one) ran past the cell timeout."""
    return any(role.kind == "student" and role.cell is not None
               and sections[role.cell] == copy.label
               and (record := run.records.get(cell)) is not None and record.timeout
               for cell, role in enumerate(copy.roles))


def cell_notes(copy: GradedCopy, run: RunResult, limit: int = 3) -> list[str]:
    """Japanese notes on the student's own cells of this run that raised or timed out."""
    notes = []
    for cell, role in enumerate(copy.roles):
        record = run.records.get(cell)
        if role.kind != "student" or record is None or record.passed or record.skipped:
            continue
        where = f"セル {role.cell + 1}" if role.cell is not None else "セル"
        if record.timeout:
            notes.append(f"{where} がセルの制限時間を超えたため中断されました")
        elif record.ename:
            notes.append(f"{where} で例外 {record.ename}: {_first_line(record.evalue)}")
        if len(notes) == limit:
            break
    return notes
