"""Grading: student copies, hidden checks, nbval grading into a gradebook.

The fixture ``grading_fixtures/exercises.ipynb`` is a small solution notebook (numpy only) written in
the book's exercise convention; ``grading_fixtures/checks`` holds its hidden checks (7 points) and
``grading_fixtures/submissions`` prepared student submissions made from its student copy.
"""
from __future__ import annotations

import ast
import copy
import csv
import hashlib
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from tools import grading

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "grading_fixtures"
SOLUTION = FIXTURES / "exercises.ipynb"
CHECKS = FIXTURES / "checks"
BOOK_EXERCISES = ROOT / "chapters" / "05_8_exercises.ipynb"
BOOK_CHECKS = ROOT / "chapters" / "checks"

# (student, exercise) -> (points, status); max points: ex-concat 2, ex-late 3, ex-weights 2
EXPECTED = {
    ("solution", "ex-concat"): (2, "passed"),
    ("solution", "ex-late"): (3, "passed"),
    ("solution", "ex-weights"): (2, "passed"),
    ("untouched", "ex-concat"): (0, "error"),
    ("untouched", "ex-late"): (0, "error"),
    ("untouched", "ex-weights"): (0, "error"),
    # partial: early_fusion right; late_fusion right but best_alpha picks the worst weight; rest untouched
    ("carol", "ex-concat"): (2, "passed"),
    ("carol", "ex-late"): (1, "failed"),
    ("carol", "ex-weights"): (0, "error"),
    # tampered: a check cell deleted, one edited to pass, a fake hidden check added, a heading deleted
    ("tampered", "ex-concat"): (2, "passed"),
    ("tampered", "ex-late"): (3, "passed"),
    ("tampered", "ex-weights"): (0, "error"),
    # loop: best_alpha never returns (check times out); the ex-weights cell loops before defining
    ("loop", "ex-concat"): (2, "passed"),
    ("loop", "ex-late"): (1, "timeout"),
    ("loop", "ex-weights"): (0, "timeout"),
    ("malformed", "ex-concat"): (0, "malformed"),
    ("malformed", "ex-late"): (0, "malformed"),
    ("malformed", "ex-weights"): (0, "malformed"),
}


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _solution_lines(nb: nbformat.NotebookNode) -> set[str]:
    """Lines a student copy must not contain: solution code bodies and solution prose."""
    secret, gated = [], False
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "check" not in tags and (gated or "solution" in tags):
            secret += _code_body_lines(cell.source)
        if cell.cell_type != "markdown":
            continue
        gated_lines = []
        for line in cell.source.splitlines():
            if "{solution-start}" in line or "{solution}" in line:
                gated = True
            elif "{solution-end}" in line:
                gated = False
            elif gated:
                gated_lines.append(line)
        secret += [line for line in gated_lines if not re.fullmatch(r"\s*(:[\w-]+:.*|[`~:]{3,})\s*", line)]
    public = {line.strip() for cell in nb.cells for line in cell.source.splitlines()
              if not any(line.strip() == s.strip() for s in secret)}
    return {line.strip() for line in secret if len(line.strip()) >= 8} - public


def _code_body_lines(source: str) -> list[str]:
    """Lines of a code cell other than imports, decorators, signatures and docstrings."""
    lines, keep = source.splitlines(), set(range(1, source.count("\n") + 2))

    def drop(first: int, last: int) -> None:
        keep.difference_update(range(first, last + 1))

    def visit(nodes) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                drop(node.lineno, node.end_lineno)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                drop(min([node.lineno] + [d.lineno for d in node.decorator_list]), node.body[0].lineno - 1)
                doc = node.body[0]
                if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
                    drop(doc.lineno, doc.end_lineno)
                if isinstance(node, ast.ClassDef):
                    visit(node.body)

    visit(ast.parse(source).body)
    return [lines[i - 1] for i in sorted(keep) if i <= len(lines)]


def _everything(nb: nbformat.NotebookNode) -> str:
    """All sources, metadata and outputs of a notebook as one searchable text."""
    parts = [str(nb.metadata)]
    for cell in nb.cells:
        parts += [cell.source, str(cell.metadata), str(cell.get("outputs", ""))]
    return "\n".join(parts)


def _assert_no_solution(solution: nbformat.NotebookNode, student: nbformat.NotebookNode) -> None:
    text = _everything(student)
    leaked = sorted(line for line in _solution_lines(solution) if line in text)
    assert not leaked, f"solution text in the student copy: {leaked}"


@pytest.fixture(scope="module")
def student_copy() -> nbformat.NotebookNode:
    return grading.make_student_copy(_read(SOLUTION))


# --------------------------------------------------------------------------- student copies
def test_student_copy_contains_no_solution_and_no_hidden_check(student_copy):
    secret = _solution_lines(_read(SOLUTION))
    assert {"return np.concatenate([comp, emb], axis=1)",
            "元の結晶グラフの結合（辺）に対応し、線グラフの辺は結合角を運ぶ。"} <= secret
    _assert_no_solution(_read(SOLUTION), student_copy)
    text = _everything(student_copy)
    for path in CHECKS.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if len(line.strip()) >= 12 and not line.startswith(("import ", '"""')):
                assert line.strip() not in text, f"hidden check line {line!r} in the student copy"
    assert "401 次元" not in text and "np.argmin" not in text


def test_student_copy_keeps_signatures_docstrings_checks_and_statement(student_copy):
    code = [c.source for c in student_copy.cells if c.cell_type == "code"]
    stub = next(s for s in code if s.startswith("def early_fusion(comp, emb):"))
    assert '"""Concatenate composition features' in stub
    assert stub.rstrip().endswith("raise NotImplementedError('演習 ex-concat: ここを実装してください')")
    weights = next(s for s in code if "def inverse_std_weights" in s)
    assert "# 定義する変数: weights" in weights and weights.rstrip().endswith("')")
    assert sum("check" in c.metadata.get("tags", []) for c in student_copy.cells) == 3
    markdown = "\n".join(c.source for c in student_copy.cells if c.cell_type == "markdown")
    assert "**演習 `ex-late`** 後期融合の重み" in markdown and "best_alpha(y_a, y_b, y_true, grid)" in markdown
    assert markdown.count(grading.ANSWER_PLACEHOLDER) == 3 and "{solution" not in markdown
    for cell in student_copy.cells:
        assert set(cell.metadata) <= {"tags", "exercise"}
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None
    assert set(student_copy.metadata) == {"kernelspec", "language_info"}
    labels = [c.metadata.get("exercise") for c in student_copy.cells]
    assert labels[:2] == [None, None] and labels[-1] == "ex-concept"
    assert labels.index("ex-late") < labels.index("ex-weights")


def test_student_copy_stubs_run_and_raise(student_copy):
    namespace: dict = {}
    exec(student_copy.cells[1].source, namespace)  # import numpy
    stub = next(c.source for c in student_copy.cells if "def late_fusion" in c.source)
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="ex-late"):
        namespace["best_alpha"]([1.0], [2.0], [1.0], [0.0, 1.0])


@pytest.mark.parametrize("source, expected", [
    ("def f(x): return 2 * x", "def f(x):\n    raise NotImplementedError('演習 ex: ここを実装してください')"),
    ("class A:\n    k = 3\n    def m(self): return self.k",
     "class A:\n    def m(self):\n        raise NotImplementedError('演習 ex: ここを実装してください')"),
    ("%timeit sum(range(9))", "# TODO: 演習 ex: ここを実装してください\n"
                              "raise NotImplementedError('演習 ex: ここを実装してください')"),
    ("import torch\n@torch.no_grad()\ndef g(m):\n    # hint: secret\n    return m(1)",
     "import torch\n\n\n@torch.no_grad()\ndef g(m):\n"
     "    raise NotImplementedError('演習 ex: ここを実装してください')"),
])
def test_stub_code_keeps_only_signatures(source, expected):
    assert grading.stub_code(source, "ex") == expected


def test_answer_tag_and_colon_fences_are_replaced():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(":::{exercise-start}\n:label: ex-c\n:::\nなぜか。\n:::{exercise-end}\n:::"),
        nbformat.v4.new_markdown_cell(":::{solution-start} ex-c\n:class: dropdown\n:::\n秘密の答え\n"
                                      ":::{solution-end}\n:::\n解答の後の本文"),
        nbformat.v4.new_markdown_cell("別の秘密", metadata={"tags": ["answer"]}),
    ])
    student = [c.source for c in grading.make_student_copy(nb).cells]
    assert student == ["**演習 `ex-c`**\n\nなぜか。",
                       f"{grading.ANSWER_HEADING}\n\n{grading.ANSWER_PLACEHOLDER}\n\n解答の後の本文",
                       grading.ANSWER_PLACEHOLDER]
    assert grading.exercise_labels(nb) == ["ex-c"]


def test_students_command_writes_and_detects_stale_copies(tmp_path, capsys):
    out = tmp_path / "students"
    assert grading.main(["students", str(SOLUTION), "--out", str(out)]) == 0
    written = out / SOLUTION.name
    assert _read(written) == grading.make_student_copy(_read(SOLUTION))
    assert grading.main(["students", str(SOLUTION), "--out", str(out), "--check"]) == 0
    written.write_text(written.read_text(encoding="utf-8").replace("ここを実装", "ここは"), encoding="utf-8")
    assert grading.main(["students", str(SOLUTION), "--out", str(out), "--check"]) == 1
    assert "stale student copy" in capsys.readouterr().out


# --------------------------------------------------------------------------- hidden checks
def test_load_checks_reads_points_and_sources():
    checks = grading.load_checks(CHECKS)
    assert list(checks) == ["ex-concat", "ex-late", "ex-weights"]
    assert [(c.number, c.points) for c in checks["ex-late"]] == [(1, 1.0), (2, 2.0)]
    assert checks["ex-weights"][0].source.startswith("import numpy as _np")
    assert checks["ex-late"][1].origin.endswith("ex-late.py:9")


@pytest.mark.parametrize("text, error", [
    ("x = 1\n# %% points=1\nassert x\n", "code before the first"),
    ("# %%\nassert True\n", "points=N"),
    ("# %% points=two\nassert True\n", "not a number"),
    ("# %% points=1\nassert (\n", "not valid Python"),
    ("# %% points=1\n\n# %% points=1\nassert True\n", "empty check cell"),
])
def test_load_checks_rejects_bad_files(tmp_path, text, error):
    (tmp_path / "ex-bad.py").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        grading.load_checks(tmp_path)


def test_graded_copy_drops_visible_checks_and_places_hidden_checks(student_copy):
    checks = grading.load_checks(CHECKS)
    submission = copy.deepcopy(student_copy)
    submission.cells = [c for c in submission.cells if c.metadata.get("exercise") != "ex-weights"]
    graded, roles = grading._graded_notebook(submission, checks)
    sources = [c.source for c in graded.cells if c.cell_type == "code"]
    assert not any(s.startswith(("fused = early_fusion", "assert np.isclose(weights")) for s in sources)
    headers = [s.split("\n", 1)[0] for s in sources if s.startswith("# hidden check")]
    assert headers == ["# hidden check ex-concat #1 (1 pt)", "# hidden check ex-concat #2 (1 pt)",
                       "# hidden check ex-late #1 (1 pt)", "# hidden check ex-late #2 (2 pt)",
                       "# hidden check ex-weights #1 (2 pt)"]
    late = sources.index(next(s for s in sources if s.startswith("def late_fusion")))
    assert [r.check.exercise if r.check else None for r in roles[late + 1: late + 3]] == ["ex-late"] * 2
    assert roles[-1].check.exercise == "ex-weights", "deleted exercise: its checks go at the end"


# --------------------------------------------------------------------------- grading with nbval
def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.ipynb")}


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory, student_copy) -> list[grading.GradeRow]:
    """Grade the solution, the untouched student copy and every prepared submission in one run."""
    submissions = tmp_path_factory.mktemp("submissions")
    shutil.copy(SOLUTION, submissions / "solution.ipynb")
    nbformat.write(student_copy, submissions / "untouched.ipynb")
    for name in ("tampered", "loop"):
        shutil.copy(FIXTURES / "submissions" / f"{name}.ipynb", submissions / f"{name}.ipynb")
    (submissions / "carol").mkdir()
    shutil.copy(FIXTURES / "submissions" / "partial.ipynb", submissions / "carol" / "05_8_exercises.ipynb")
    (submissions / ".ipynb_checkpoints").mkdir()
    shutil.copy(SOLUTION, submissions / ".ipynb_checkpoints" / "solution-checkpoint.ipynb")
    (submissions / "malformed.ipynb").write_text(SOLUTION.read_text(encoding="utf-8")[:400], encoding="utf-8")
    before = _digest(submissions)
    rows = grading.grade_submissions(submissions, CHECKS, cell_timeout=8, notebook_timeout=120, jobs=2)
    assert _digest(submissions) == before, "grading must not modify submissions"
    return rows


def test_gradebook_has_expected_points_and_statuses(gradebook):
    got = {(r.student, r.exercise): (r.points, r.status) for r in gradebook}
    assert got == EXPECTED
    assert {(r.exercise, r.max_points) for r in gradebook} == {("ex-concat", 2), ("ex-late", 3), ("ex-weights", 2)}


def test_gradebook_messages_name_the_first_failure(gradebook):
    message = {(r.student, r.exercise): r.message for r in gradebook}
    assert message["solution", "ex-late"] == ""
    assert message["carol", "ex-late"] == "check 2: AssertionError: best_alpha gave 0.0, expected 1"
    assert message["untouched", "ex-concat"] == (
        "check 1: NotImplementedError: 演習 ex-concat: ここを実装してください")
    assert message["loop", "ex-late"] == "check 2: Timeout of 8 seconds exceeded executing cell"
    assert message["loop", "ex-weights"].startswith("a cell of this exercise: Timeout of 8 seconds")
    assert message["malformed", "ex-late"].startswith("JSONDecodeError: ")


def test_write_gradebook_csv(gradebook, tmp_path):
    path = grading.write_gradebook(gradebook, tmp_path / "out" / "grades.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["student", "exercise", "points", "max_points", "status", "message"]
    assert len(table) == len(EXPECTED)
    carol = {r["exercise"]: r for r in table if r["student"] == "carol"}
    assert (carol["ex-late"]["points"], carol["ex-late"]["max_points"], carol["ex-late"]["status"]) == ("1", "3", "failed")


def test_notebook_timeout_stops_the_run_and_its_kernel(tmp_path, student_copy):
    psutil = pytest.importorskip("psutil")
    sleeper = copy.deepcopy(student_copy)
    sleeper.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(600)"))
    nbformat.write(sleeper, tmp_path / "sleeper.ipynb")
    work = tmp_path / "work"
    rows = grading.grade_notebook(tmp_path / "sleeper.ipynb", grading.load_checks(CHECKS), "sleeper",
                                  cell_timeout=600, notebook_timeout=10, workdir=work)
    assert {(r.points, r.status) for r in rows} == {(0, "timeout")}
    assert rows[0].message == "the notebook ran longer than 10 s"
    left = []
    for proc in psutil.process_iter(["cwd"]):
        if proc.info["cwd"] and Path(proc.info["cwd"]).is_relative_to(work):
            left.append(proc)
    assert not left, f"kernel still running: {left}"


# --------------------------------------------------------------------------- the book's exercises
@pytest.mark.skipif(not BOOK_EXERCISES.exists(), reason="chapters/05_8_exercises.ipynb not written yet")
def test_book_exercises_follow_the_convention():
    solution = _read(BOOK_EXERCISES)
    labels = grading.exercise_labels(solution)
    assert len(labels) == len(set(labels)), "exercise labels must be unique"
    assert set(grading.load_checks(BOOK_CHECKS)) <= set(labels), "hidden checks for unknown exercises"
    _assert_no_solution(solution, grading.make_student_copy(solution))


@pytest.mark.skipif(not (ROOT / "students" / BOOK_EXERCISES.name).exists(),
                    reason="no students/ copy to compare (make students writes it)")
def test_handed_out_student_copy_is_up_to_date():
    stale = grading.write_student_copies([BOOK_EXERCISES], ROOT / "students", check=True)
    assert not stale, "students/ is stale: run `make students`"


@pytest.mark.slow
@pytest.mark.skipif(not (BOOK_CHECKS.is_dir() and BOOK_EXERCISES.exists()),
                    reason="chapters/05_8_exercises.ipynb or chapters/checks not written yet")
def test_book_solution_gets_full_marks_and_student_copy_zero(tmp_path, shared_cache):
    nbformat.write(grading.make_student_copy(_read(BOOK_EXERCISES)), tmp_path / "student.ipynb")
    shutil.copy(BOOK_EXERCISES, tmp_path / "solution.ipynb")
    rows = grading.grade_submissions(tmp_path, BOOK_CHECKS, cell_timeout=900, notebook_timeout=3600,
                                     jobs=2)
    solution = [(r.exercise, r.status, r.message) for r in rows if r.student == "solution"]
    assert all(r.points == r.max_points for r in rows if r.student == "solution"), solution
    assert all(r.points == 0 for r in rows if r.student == "student")
