"""End to end: a class of prepared submissions graded in one run, with the exact grade of each.

The submissions are built from the student copy of ``grading_fixtures/exercises.ipynb`` (numpy
only; hidden checks in ``grading_fixtures/checks``: ex-concat 2, ex-late 3, ex-weights 2
automatic points, ex-weights 1 and ex-concept 2 written points). Every case of
:data:`CASES` says what it submits and which grade it must get; the cheats must get 0 for every
exercise they did not solve.
"""
from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tools import grading
from tools.grading.outcomes import _missing
from tools.grading.runner import KernelSetup, prepare_home, run_graded
from tools.grading.submissions import safe_name

FIXTURES = Path(__file__).parent / "grading_fixtures"
SOLUTION = FIXTURES / "exercises.ipynb"
CHECKS = FIXTURES / "checks"
CELL_TIMEOUT, TIMEOUT = 15, 45

EARLY = '''def early_fusion(comp, emb):
    return np.concatenate([comp, emb], axis=1)'''
LATE = '''def late_fusion(y_a, y_b, alpha):
    return alpha * np.asarray(y_a) + (1 - alpha) * np.asarray(y_b)


def best_alpha(y_a, y_b, y_true, grid):
    maes = [np.mean(np.abs(late_fusion(y_a, y_b, a) - y_true)) for a in grid]
    return float(grid[int(np.argmin(maes))])'''
WEIGHTS = '''def inverse_std_weights(stds):
    inverse = 1.0 / np.asarray(stds, dtype=float)
    return inverse / inverse.sum()


weights = inverse_std_weights([1.5, 2.0])'''
SOLVED = {"ex-concat": EARLY, "ex-late": LATE, "ex-weights": WEIGHTS}

# Cheats: hooks go into the shared import cell, before any exercise; the others replace the
# answer of every exercise.
HOOK = "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)"
SHOWTRACEBACK = '''ip = get_ipython()
ip.showtraceback = lambda *args, **kwargs: None
ip._showtraceback = lambda *args, **kwargs: None
ip.showsyntaxerror = lambda *args, **kwargs: None'''
AST_WRAP = '''import ast


class Swallow(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None,
                                    body=[ast.Pass()])
        wrapped = ast.Try(body=node.body or [ast.Pass()], handlers=[handler], orelse=[],
                          finalbody=[])
        return ast.fix_missing_locations(ast.Module(body=[wrapped], type_ignores=[]))


get_ipython().ast_transformers.append(Swallow())'''
MAGIC = '''import builtins


class Magic(float):
    def __new__(cls, *args):
        return float.__new__(cls, 0.5)

    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = float.__hash__

    def __getattr__(self, name):
        return Magic()

    def __call__(self, *args, **kwargs):
        return Magic()

    def __getitem__(self, key):
        return Magic()

    def __iter__(self):
        return iter([Magic(), Magic()])

    def __len__(self):
        return 2


builtins.abs = lambda value: 0
for name in ("allclose", "isclose", "array_equal", "array_equiv"):
    setattr(np, name, lambda *args, **kwargs: True)
early_fusion = late_fusion = best_alpha = inverse_std_weights = Magic()
weights = Magic()'''
FORGED = HOOK + '''
import re


def forge(info):
    for marker in re.findall(r"@@grading:[0-9a-f]+@@", info.raw_cell):
        print(marker + "0.5")


get_ipython().events.register("pre_run_cell", forge)'''
READ_CHECKS = '''import glob, os, re, sys
from pathlib import Path

seen = set()
places = [Path.cwd(), *list(Path.cwd().parents)[:3], *map(Path, sys.path)]
try:
    import tools, hybridlib
    places += [Path(tools.__file__).parents[1], Path(hybridlib.__file__).parents[1]]
except Exception:
    pass
patterns = ("*.ipynb", "*/*.ipynb", "*/*/*.ipynb", "chapters/checks/*.py",
            "tests/tools/grading_fixtures/checks/*.py")
for place in places:
    for pattern in patterns:
        try:
            seen.update(str(path) for path in Path(place).glob(pattern))
        except OSError:
            pass
found = [p for p in seen if "points=" in open(p, errors="ignore").read()[:20000]]
Path("found.txt").write_text("\\n".join(sorted(found)))
numbers = [float(x) for p in found for x in re.findall(r"[-+]?\\d+\\.\\d+", open(p).read())]
values = iter(numbers * 10 or [0.0] * 10)
early_fusion = late_fusion = best_alpha = inverse_std_weights = lambda *a, **k: next(values)
weights = next(values)'''
PRINT_LOOP = '''import time
while True:
    try:
        print("still here", flush=True)
        time.sleep(0.05)
    except:
        pass'''


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _stub_index(nb: nbformat.NotebookNode, label: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                and c.metadata.get("exercise") == label and "check" not in c.metadata.get("tags", []))


def answered(student: nbformat.NotebookNode, answers: dict[str, str],
             setup: str = "") -> nbformat.NotebookNode:
    """The student copy with the stub cell of each exercise replaced by an answer."""
    nb = copy.deepcopy(student)
    for label, source in answers.items():
        nb.cells[_stub_index(nb, label)].source = source
    if setup:
        nb.cells[1].source += "\n" + setup
    return nb


def edited_checks(student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Solved concat and late; concat's check deleted, late's replaced, a fake check added."""
    nb = answered(student, {"ex-concat": EARLY, "ex-late": LATE})
    checks = [i for i, c in enumerate(nb.cells) if "check" in c.metadata.get("tags", [])]
    nb.cells[checks[1]].source = "pass  # 確認はもう要らない"
    fake = nbformat.v4.new_code_cell("# hidden check ex-weights #1 (2 pt)\nprint('passed')",
                                     metadata={"exercise": "ex-weights"})
    nb.cells.insert(checks[2], fake)
    del nb.cells[checks[0]]
    return nb


def typed_into_check(student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The answer to ex-concat written into its visible check cell; the stub left as it was."""
    nb = copy.deepcopy(student)
    check = next(c for c in nb.cells if c.metadata.get("exercise") == "ex-concat"
                 and "check" in c.metadata.get("tags", []))
    check.source = EARLY + "\n\n\n" + check.source
    return nb


def renamed_headings(student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Everything solved; every exercise heading rewritten (labels only in the metadata)."""
    nb = answered(student, SOLVED)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "採点用ラベル" in cell.source:
            cell.source = re.sub(r"\*\*演習.*?）", "### わたしの解答", cell.source)
    return nb


def stripped_metadata(student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Everything solved; every cell's metadata lost (a tool that strips it)."""
    nb = answered(student, SOLVED)
    for cell in nb.cells:
        cell.metadata = nbformat.NotebookNode(
            {"tags": cell.metadata["tags"]} if "tags" in cell.metadata else {})
    return nb


def crash(student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return answered(student, {"ex-concat": EARLY, "ex-late": LATE,
                              "ex-weights": "import os\nos._exit(0)"})


Build = Callable[[nbformat.NotebookNode, nbformat.NotebookNode], nbformat.NotebookNode | str]
FULL = {"ex-concat": (2, "passed"), "ex-late": (3, "passed"), "ex-weights": (2, "passed")}
ZERO = {"ex-concat": (0, "error"), "ex-late": (0, "error"), "ex-weights": (0, "error")}


@dataclass(frozen=True)
class Case:
    """One submission: where it lies, how it is made, and the grade it must get."""

    path: str
    build: Build
    expected: dict[str, tuple[float, str]]
    student: str = ""

    @property
    def id(self) -> str:
        return self.student or re.sub(r"\.ipynb$", "", self.path, flags=re.I)


CASES = [
    Case("solution.ipynb", lambda sol, st: sol, FULL),
    Case("untouched.ipynb", lambda sol, st: st, ZERO),
    Case("carol/05_8_exercises.ipynb",
         lambda sol, st: answered(st, {"ex-concat": EARLY,
                                       "ex-late": LATE.replace("np.argmin", "np.argmax")}),
         {"ex-concat": (2, "passed"), "ex-late": (1, "failed"), "ex-weights": (0, "error")},
         student="carol"),
    Case("plausible.ipynb", lambda sol, st: answered(st, {
        "ex-concat": EARLY.replace("[comp, emb]", "[emb, comp]"),
        "ex-late": LATE.replace("alpha * np.asarray(y_a) + (1 - alpha) * np.asarray(y_b)",
                                "(1 - alpha) * np.asarray(y_a) + alpha * np.asarray(y_b)"),
        "ex-weights": WEIGHTS.replace("1.0 / np.asarray", "np.asarray")}),
         {"ex-concat": (1, "failed"), "ex-late": (0, "failed"), "ex-weights": (0, "failed")}),
    Case("loop.ipynb", lambda sol, st: answered(st, {
        "ex-concat": EARLY,
        "ex-late": LATE.replace("    maes = [", "    while True:\n        pass\n    maes = ["),
        "ex-weights": "while True:\n    pass\n" + WEIGHTS}),
         {"ex-concat": (2, "passed"), "ex-late": (1, "timeout"), "ex-weights": (0, "timeout")}),
    Case("bare-except.ipynb", lambda sol, st: answered(st, {
        "ex-concat": EARLY, "ex-late": LATE, "ex-weights": PRINT_LOOP + "\n" + WEIGHTS}),
         {"ex-concat": (2, "passed"), "ex-late": (3, "passed"), "ex-weights": (0, "timeout")}),
    Case("crash.ipynb", lambda sol, st: crash(st),
         {"ex-concat": (2, "passed"), "ex-late": (3, "passed"), "ex-weights": (0, "error")}),
    Case("corrupted.ipynb", lambda sol, st: nbformat.writes(answered(st, SOLVED))[:400],
         {label: (0, "malformed") for label in FULL}),
    Case("edited-checks.ipynb", lambda sol, st: edited_checks(st),
         {"ex-concat": (2, "passed"), "ex-late": (3, "passed"), "ex-weights": (0, "error")}),
    Case("typed-into-check.ipynb", lambda sol, st: typed_into_check(st),
         {"ex-concat": (2, "passed"), "ex-late": (0, "error"), "ex-weights": (0, "error")}),
    Case("renamed.ipynb", lambda sol, st: renamed_headings(st), FULL),
    Case("stripped.ipynb", lambda sol, st: stripped_metadata(st), FULL),
    Case("x y.ipynb", lambda sol, st: answered(st, SOLVED), FULL),
    Case("x_y.ipynb", lambda sol, st: st, ZERO),
    Case("alice.ipynb", lambda sol, st: answered(st, SOLVED), FULL),
    Case("alice/hw.ipynb", lambda sol, st: st, ZERO),
    Case("bob.IPYNB", lambda sol, st: answered(st, SOLVED), FULL, student="bob"),
    Case("cheat-hook.ipynb", lambda sol, st: answered(st, {"ex-concat": EARLY}, HOOK),
         {"ex-concat": (2, "passed"), "ex-late": (0, "error"), "ex-weights": (0, "error")}),
    Case("cheat-showtraceback.ipynb", lambda sol, st: answered(st, {}, SHOWTRACEBACK), ZERO),
    Case("cheat-ast.ipynb", lambda sol, st: answered(st, {}, AST_WRAP), ZERO),
    Case("cheat-magic.ipynb", lambda sol, st: answered(st, dict.fromkeys(SOLVED, MAGIC)),
         {"ex-concat": (0, "failed"), "ex-late": (0, "failed"), "ex-weights": (0, "failed")}),
    Case("cheat-forged.ipynb", lambda sol, st: answered(st, {}, FORGED),
         {"ex-concat": (0, "failed"), "ex-late": (0, "failed"), "ex-weights": (0, "failed")}),
    Case("cheat-read-checks.ipynb",
         lambda sol, st: answered(st, dict.fromkeys(SOLVED, READ_CHECKS)),
         {"ex-concat": (0, "failed"), "ex-late": (0, "failed"), "ex-weights": (0, "failed")}),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every case in one run (two at a time); keep the work folders for inspection."""
    root = tmp_path_factory.mktemp("grading")
    submissions, keep = root / "submissions", root / "keep"
    solution, student = _read(SOLUTION), grading.make_student_copy(_read(SOLUTION))
    for case in CASES:
        target = submissions / case.path
        target.parent.mkdir(parents=True, exist_ok=True)
        made = case.build(solution, student)
        target.write_text(made if isinstance(made, str) else nbformat.writes(made),
                          encoding="utf-8")
    (submissions / ".ipynb_checkpoints").mkdir()
    shutil.copy(SOLUTION, submissions / ".ipynb_checkpoints" / "solution-checkpoint.ipynb")
    before = {p: p.read_bytes() for p in submissions.rglob("*") if p.is_file()}
    run = grading.grade_submissions(submissions, checks=CHECKS, solution=SOLUTION,
                                    cache=root / "cache", cell_timeout=CELL_TIMEOUT,
                                    timeout=TIMEOUT, jobs=2, keep=keep)
    after = {p: p.read_bytes() for p in submissions.rglob("*") if p.is_file()}
    assert after == before, "grading must not modify submissions"
    return run, keep


pytestmark = pytest.mark.slow


def test_every_case_gets_its_exact_grade(graded):
    run, _ = graded
    got = {(r.student, e.label): (e.auto_points, e.status) for r in run.results
           for e in r.exercises if e.checks}
    expected = {(case.id, label): grade for case in CASES for label, grade in case.expected.items()}
    wrong = {key: (got.get(key), grade) for key, grade in expected.items() if got.get(key) != grade}
    assert not wrong, f"(student, exercise): (got, expected): {wrong}"
    assert set(got) == set(expected), "one row per student and graded exercise, nothing else"
    assert {r.student: r.max_points for r in run.results} == {case.id: 10 for case in CASES}


def test_cheats_get_nothing_they_did_not_solve(graded):
    run, keep = graded
    cheats = {r.student: r for r in run.results if r.student.startswith("cheat-")}
    assert len(cheats) == 6
    for name, result in cheats.items():
        solved = 2 if name == "cheat-hook" else 0
        assert result.auto_points == solved, (name, [(e.label, e.message) for e in result.exercises])
    found = (keep / safe_name("cheat-read-checks") / "ex-concat" / "found.txt").read_text()
    assert str(CHECKS / "ex-late.py") in found.splitlines(), (
        "the cheat could read the hidden checks, which hold no expected value")


def test_messages_say_why_in_japanese(graded):
    run, _ = graded
    message = {(r.student, e.label): e.message for r in run.results for e in r.exercises}
    assert message["untouched", "ex-concat"].startswith(
        "チェック 1（early_fusion が (B, D1 + D2) の形の配列を返す）: 例外 NotImplementedError")
    assert "形が (6, 3) になりました" not in message["plausible", "ex-concat"]
    assert "の値が正解と違います" in message["plausible", "ex-concat"]
    assert message["carol", "ex-late"] == (
        "チェック 2（best_alpha が候補の中から MAE が最小になる重みを選ぶ）: 答え の値が正解と違います")
    assert "セルの制限時間" in message["loop", "ex-late"]
    assert "制限時間（45 秒）" in message["bare-except", "ex-weights"]
    assert "カーネルが途中で停止" in message["crash", "ex-weights"]
    assert "値が届きませんでした" in message["cheat-hook", "ex-late"]
    assert message["solution", "ex-late"] == ""


def test_every_failed_check_is_listed(graded):
    run, _ = graded
    untouched = next(r for r in run.results if r.student == "untouched")
    late = next(e for e in untouched.exercises if e.label == "ex-late")
    assert late.message.count("チェック ") == 2


def test_edited_and_typed_in_check_cells_are_reported(graded):
    run, _ = graded
    notes = {(r.student, e.label): " ".join(e.notes) for r in run.results for e in r.exercises}
    assert "確認セルが削除されています" in notes["edited-checks", "ex-concat"]
    assert "書き換えられています" in notes["edited-checks", "ex-late"]
    assert "書き換えられています" in notes["typed-into-check", "ex-concat"]
    assert "書き換えられています" not in notes["solution", "ex-concat"]


def test_colliding_and_duplicate_ids_stay_apart(graded):
    run, keep = graded
    students = [r.student for r in run.results]
    assert len(students) == len(set(students)) == len(CASES)
    assert {"x y", "x_y", "alice", "alice/hw", "bob"} <= set(students)
    assert any("alice.ipynb, alice/hw.ipynb" in note for note in run.notes)
    assert (keep / safe_name("x y")).is_dir() and (keep / safe_name("x_y")).is_dir()


def test_no_kernel_outlives_the_run(graded):
    psutil = pytest.importorskip("psutil")
    _, keep = graded
    left = []
    for proc in psutil.process_iter(["cwd"]):
        if proc.info["cwd"] and Path(proc.info["cwd"]).is_relative_to(keep):
            left.append(proc)
    assert not left, f"processes still running in the grading folders: {left}"


def test_gradebook_files(graded, tmp_path):
    run, _ = graded
    paths = grading.write_gradebook(run.results, tmp_path / "grades.csv", run.labels,
                                    run.reference.titles)
    import csv

    summary = {row["student"]: row for row in csv.DictReader(open(paths.summary, encoding="utf-8"))}
    assert (summary["carol"]["points"], summary["carol"]["max_points"]) == ("3", "10")
    assert summary["solution"]["written_pending"] == "2"
    stats = {row["exercise"]: row for row in csv.DictReader(open(paths.stats, encoding="utf-8"))}
    assert stats["ex-concat"]["students"] == str(len(CASES))
    checks = list(csv.DictReader(open(paths.checks, encoding="utf-8")))
    assert len(checks) == len(CASES) * 6
    feedback = (paths.feedback / f"{safe_name('carol')}.md").read_text(encoding="utf-8")
    assert "合計：**3 / 10 点**" in feedback and "❌ チェック 2（2 点）" in feedback


def test_written_answers_are_graded_by_hand_and_merged_on_the_next_run(tmp_path, capsys):
    """The command line twice: export the written answers, fill in points, grade again."""
    student = grading.make_student_copy(_read(SOLUTION))
    nb = answered(student, {"ex-concat": EARLY})
    concept = next(c for c in nb.cells if c.metadata.get("exercise") == "ex-concept"
                   and c.cell_type == "markdown")
    concept.source = concept.source.replace(grading.ANSWER_PLACEHOLDER, "元のグラフの結合に対応する。")
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(nb, submissions / "dora.ipynb")
    out = tmp_path / "out" / "grades.csv"
    args = ["grade", str(submissions), "--out", str(out), "--checks", str(CHECKS), "--solution",
            str(SOLUTION), "--cache", str(tmp_path / "cache"), "--cell-timeout",
            str(CELL_TIMEOUT), "--timeout", str(TIMEOUT), "--jobs", "2"]
    assert grading.main(args) == 0
    assert "dora: 2 / 10, 1 written answer(s) to grade" in capsys.readouterr().out
    paths = grading.gradebook_paths(out)
    import csv

    rows = list(csv.DictReader(open(paths.written, encoding="utf-8")))
    assert [(r["exercise"], r["points"], r["note"]) for r in rows] == [
        ("ex-concept", "", ""), ("ex-weights", "0", "未回答")]
    assert rows[0]["answer"].endswith("元のグラフの結合に対応する。") and "1 点" in rows[0]["rubric"]
    rows[0].update(points="1.5", comment="辺が結合角を運ぶことにも触れましょう")
    with open(paths.written, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert grading.main(args) == 0
    assert "dora: 3.5 / 10\n" in capsys.readouterr().out
    summary = next(csv.DictReader(open(paths.summary, encoding="utf-8")))
    assert (summary["points"], summary["written_points"], summary["written_pending"]) == (
        "3.5", "1.5", "0")
    feedback = (paths.feedback / f"{safe_name('dora')}.md").read_text(encoding="utf-8")
    assert "記述（2 点）：1.5 点：辺が結合角を運ぶことにも触れましょう" in feedback


# A kernel that dies while it starts (here: an IPython startup file, run before the kernel
# answers) stands for a port taken by a kernel starting beside it or a machine too busy to
# answer: no student code has run, so the grader starts the run again.
DIE_ON_FIRST_START = '''import os, pathlib
marker = pathlib.Path(os.environ["HOME"]) / "started-once"
if not marker.exists():
    marker.touch()
    os._exit(1)
'''


def _kernel_that_dies(tmp_path: Path, script: str) -> KernelSetup:
    home = tmp_path / "home"
    prepare_home(home)
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-die.py").write_text(script, encoding="utf-8")
    return KernelSetup("ci", tmp_path / "cache", home)


def _one_cell() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])


def test_a_kernel_that_fails_to_start_is_started_again(tmp_path):
    setup = _kernel_that_dies(tmp_path, DIE_ON_FIRST_START)
    run = run_graded(_one_cell(), tmp_path / "run", setup,
                     cell_timeout=CELL_TIMEOUT, timeout=TIMEOUT)
    assert run.attempts == 2 and run.started is not None and not run.killed
    assert run.records[0].passed
    assert "Kernel" in run.setup_problem, run.setup_problem


def test_a_kernel_that_never_starts_is_the_graders_error_not_the_students(tmp_path):
    setup = _kernel_that_dies(tmp_path, "import os\nos._exit(1)\n")
    run = run_graded(_one_cell(), tmp_path / "run", setup,
                     cell_timeout=CELL_TIMEOUT, timeout=TIMEOUT, attempts=2)
    assert run.attempts == 2 and run.started is None and not run.records
    status, message = _missing(run, TIMEOUT)
    assert status == "error" and "2 回とも起動しなかった" in message and "採点環境" in message
