"""Grading without kernels: student copies, the notebook convention, hidden-check files,
emissions and verdicts, submission names, written answers, the gradebook and the command line.

End-to-end grading runs are in ``test_grading_e2e.py`` (the fixture class) and
``test_grading_book.py`` (the book's own exercises).
"""
from __future__ import annotations

import ast
import copy
import csv
import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from tools import grading
from tools.grading import cli
from tools.grading.checks import load_checks
from tools.grading.emission import EmissionError, canonical, decode, kernel_prelude
from tools.grading.graded import EMIT_NAME, check_cell_notes, graded_copy
from tools.grading.gradebook import StudentResult, feedback_text, gradebook_paths
from tools.grading.notebook import solution_places, submission_sections
from tools.grading.outcomes import CheckResult, ExerciseResult
from tools.grading.submissions import find_submissions, safe_name
from tools.grading.verdict import difference, judge
from tools.grading.written import read_sheet, score_written, written_answers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "grading_fixtures"
SOLUTION = FIXTURES / "exercises.ipynb"
CHECKS = FIXTURES / "checks"
BOOK_EXERCISES = ROOT / "chapters" / "05_8_exercises.ipynb"
BOOK_SOURCE = ROOT / "chapters" / "05_8_exercises.py"
BOOK_CHECKS = ROOT / "chapters" / "checks"


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
        secret += [line for line in gated_lines
                   if not __import__("re").fullmatch(r"\s*(:[\w-]+:.*|[`~:]{3,})\s*", line)]
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
                drop(min([node.lineno] + [d.lineno for d in node.decorator_list]),
                     node.body[0].lineno - 1)
                doc = node.body[0]
                if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
                    drop(doc.lineno, doc.end_lineno)
                if isinstance(node, ast.ClassDef):
                    visit(node.body)

    visit(ast.parse(source).body)
    return [lines[i - 1] for i in sorted(keep) if i <= len(lines)]


def _everything(nb: nbformat.NotebookNode) -> str:
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
            if len(line.strip()) >= 12 and not line.startswith(("import ", '"""', "# %%")):
                assert line.strip() not in text, f"hidden check line {line!r} in the student copy"
    assert "401 次元" not in text and "np.argmin" not in text


def test_student_copy_keeps_signatures_checks_statement_and_sections(student_copy):
    code = [c.source for c in student_copy.cells if c.cell_type == "code"]
    stub = next(s for s in code if s.startswith("def early_fusion(comp, emb):"))
    assert '"""Concatenate composition features' in stub
    assert stub.rstrip().endswith("raise NotImplementedError('演習 ex-concat: ここを実装してください')")
    weights = next(s for s in code if "def inverse_std_weights" in s)
    assert "# 定義する変数: weights" in weights
    checks = [c for c in student_copy.cells if "check" in c.metadata.get("tags", [])]
    assert len(checks) == 3 and all(c.source.startswith("# 確認セル") for c in checks)
    markdown = "\n".join(c.source for c in student_copy.cells if c.cell_type == "markdown")
    assert "**演習：後期融合の重み**（採点用ラベル `ex-late`）" in markdown
    assert "best_alpha(y_a, y_b, y_true, grid)" in markdown and "{solution" not in markdown
    assert markdown.count(grading.ANSWER_PLACEHOLDER) == 3
    for cell in student_copy.cells:
        assert set(cell.metadata) <= {"tags", "exercise"} and "exercise" in cell.metadata
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None
    assert set(student_copy.metadata) == {"kernelspec", "language_info"}
    sections = [c.metadata["exercise"] for c in student_copy.cells]
    assert sections == [None, None, "ex-concat", "ex-concat", "ex-concat", None, "ex-concat",
                        "ex-late", "ex-late", "ex-late", "ex-late", "ex-weights", "ex-weights",
                        "ex-weights", "ex-weights", "ex-concept", "ex-concept"]


def test_student_copy_stubs_run_and_raise(student_copy):
    namespace: dict = {}
    exec(student_copy.cells[1].source, namespace)
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
        nbformat.v4.new_markdown_cell(
            ":::{exercise-start}\n:label: ex-c\n:::\nなぜか。\n:::{exercise-end}\n:::"),
        nbformat.v4.new_markdown_cell(":::{solution-start} ex-c\n:class: dropdown\n:::\n秘密の答え\n"
                                      ":::{solution-end}\n:::\n解答の後の本文"),
        nbformat.v4.new_markdown_cell("別の秘密", metadata={"tags": ["answer"]}),
    ])
    student = [c.source for c in grading.make_student_copy(nb).cells]
    assert student == ["**演習**（採点用ラベル `ex-c`）\n\nなぜか。",
                       f"{grading.ANSWER_HEADING}\n\n{grading.ANSWER_PLACEHOLDER}\n\n解答の後の本文",
                       grading.ANSWER_PLACEHOLDER]
    assert grading.exercise_labels(nb) == ["ex-c"]


def test_students_command_writes_and_detects_stale_copies(tmp_path, capsys):
    out = tmp_path / "students"
    assert grading.main(["students", str(SOLUTION), "--out", str(out)]) == 0
    written = out / SOLUTION.name
    assert _read(written) == grading.make_student_copy(_read(SOLUTION))
    assert grading.main(["students", str(SOLUTION), "--out", str(out), "--check"]) == 0
    written.write_text(written.read_text(encoding="utf-8").replace("ここを実装", "ここは"),
                       encoding="utf-8")
    assert grading.main(["students", str(SOLUTION), "--out", str(out), "--check"]) == 1
    assert "stale student copy" in capsys.readouterr().out
    assert [p.name for p in out.iterdir()] == [SOLUTION.name], "no temporary file left"


# --------------------------------------------------------------------------- which cell is whose
def _nb(*cells) -> nbformat.NotebookNode:
    made = []
    for kind, source, *meta in cells:
        maker = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        made.append(maker(source, metadata=meta[0] if meta else {}))
    return nbformat.v4.new_notebook(cells=made)


def test_cells_after_a_solution_are_shared_except_its_checks():
    nb = _nb(("code", "import x"),
             ("markdown", "## 演習 1\n```{exercise-start}\n:label: e1\n```\n問\n```{exercise-end}\n```"),
             ("markdown", "```{solution-start} e1\n```"), ("code", "answer = 1"),
             ("markdown", "text\n```{solution-end}\n```"), ("markdown", "次で確かめます"),
             ("code", "assert answer", {"tags": ["check"]}),
             ("markdown", "演習 2 の準備"), ("code", "prepared = 2"),
             ("markdown", "```{exercise-start}\n:label: e2\n```\n```{exercise-end}\n```"))
    assert [p.exercise for p in solution_places(nb)] == [
        None, "e1", "e1", "e1", "e1", None, "e1", None, None, "e2"]
    assert [p.in_solution for p in solution_places(nb)][2:5] == [False, True, True]


def test_submission_sections_use_metadata_then_content_then_headings():
    student = grading.make_student_copy(_read(SOLUTION))
    shared = [c.source for c in student.cells if c.metadata["exercise"] is None]
    expected = [c.metadata["exercise"] for c in student.cells]
    assert submission_sections(student, shared) == expected
    added = copy.deepcopy(student)
    added.cells.insert(4, nbformat.v4.new_code_cell("mine = 1"))   # a student's own cell
    assert submission_sections(added, shared)[4] == "ex-concat"
    stripped = copy.deepcopy(student)
    for cell in stripped.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
    assert submission_sections(stripped, shared) == expected


def test_graded_copy_holds_shared_cells_its_exercise_and_then_its_checks(student_copy):
    checks = load_checks(CHECKS)
    shared = [c.source for c in student_copy.cells if c.metadata["exercise"] is None]
    sections = submission_sections(student_copy, shared)
    late = graded_copy(student_copy, sections, checks["ex-late"])
    sources = [c.source for c in late.notebook.cells]
    assert sources[0] == "import numpy as np"
    assert not any("def early_fusion" in s or "def inverse_std_weights" in s for s in sources)
    assert [r.kind for r in late.roles] == ["student", "student", "student", "prelude", "check",
                                            "check"]
    assert sources[-2].startswith("# 隠しテスト ex-late #1（1 点）：late_fusion(y_a, y_b, alpha)")
    assert "def __grader_check():" in sources[-1] and "return float(best_alpha(" in sources[-1]
    assert late.roles[-1].marker in sources[-1] and late.roles[-1].marker != late.roles[-2].marker
    other = graded_copy(student_copy, sections, checks["ex-late"])
    assert other.roles[-1].marker != late.roles[-1].marker, "markers are drawn for every copy"
    orphan = copy.deepcopy(student_copy)
    orphan.cells = [c for c in orphan.cells if c.metadata["exercise"] != "ex-weights"]
    weights = graded_copy(orphan, submission_sections(orphan, shared), checks["ex-weights"])
    assert [r.kind for r in weights.roles][-3:] == ["prelude", "check", "check"]


def test_edited_check_cells_are_noted(student_copy):
    shared = [c.source for c in student_copy.cells if c.metadata["exercise"] is None]
    nb = copy.deepcopy(student_copy)
    check = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    check[1].source = "late_fusion = lambda *a: 0\n" + check[1].source
    nb.cells.remove(check[0])
    given = [c.metadata["exercise"] for c in student_copy.cells]
    notes = check_cell_notes(nb, submission_sections(nb, shared), student_copy, given)
    assert set(notes) == {"ex-concat", "ex-late"}
    assert "削除" in notes["ex-concat"][0] and "書き換えられています" in notes["ex-late"][0]


# --------------------------------------------------------------------------- hidden-check files
def test_load_checks_reads_points_titles_verdicts_and_written_parts():
    checks = load_checks(CHECKS)
    assert list(checks) == ["ex-concat", "ex-concept", "ex-late", "ex-weights"]
    late = checks["ex-late"]
    assert [(c.number, c.points) for c in late.checks] == [(1, 1.0), (2, 2.0)]
    assert late.checks[1].title == "best_alpha が候補の中から MAE が最小になる重みを選ぶ"
    assert late.checks[1].origin.endswith("ex-late.py:8")
    assert checks["ex-concat"].checks[0].verdict.startswith("assert got == expected")
    assert checks["ex-concat"].checks[1].verdict is None
    assert checks["ex-concept"].checks == () and checks["ex-concept"].written.points == 2
    assert (checks["ex-weights"].auto_points, checks["ex-weights"].max_points) == (2, 3)


@pytest.mark.parametrize("text, error", [
    ("x = 1\n# %% points=1\n# t\n1\n", "code before the first"),
    ("# %%\n# t\n1\n", "points=N"),
    ("# %% points=two\n# t\n1\n", "not a number"),
    ("# %% points=-1\n# t\n1\n", "positive"),
    ("# %% points=1 tolerance=3\n# t\n1\n", "points=N"),
    ("# %% points=1\n# t\nx = (\n", "not valid Python"),
    ("# %% points=1\n\n# %% points=1\n# t\n1\n", "empty check cell"),
    ("# %% points=1\n# t\nx = 1\n", "ends with an expression"),
    ("# %% points=1\nvalue()\n", "starts with a comment"),
    ("# %% verdict\nassert got\n", "must follow its check"),
    ("# %% points=1\n# t\n1\n# %% verdict\nassert got\n# %% verdict\nassert got\n", "must follow"),
    ("# %% written points=1\n# a\n# %% written points=1\n# b\n", "second"),
    ("# %% written points=1\n\n", "rubric"),
])
def test_load_checks_rejects_bad_files(tmp_path, text, error):
    (tmp_path / "ex-bad.py").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        load_checks(tmp_path)


def test_book_checks_load_and_name_only_existing_exercises():
    checks = load_checks(BOOK_CHECKS)
    labels = grading.exercise_labels(_read(BOOK_EXERCISES))
    assert set(checks) == set(labels) and len(labels) == len(set(labels)) == 8
    assert sum(ex.auto_points for ex in checks.values()) == 25


# --------------------------------------------------------------------------- emissions
class _Magic(float):
    """Equal to everything, 0.5 as a float."""

    def __new__(cls):
        return float.__new__(cls, 0.5)

    __eq__ = lambda self, other: True  # noqa: E731
    __hash__ = float.__hash__


class _Liar:
    """Claims to be a string."""

    @property
    def __class__(self):
        return str


def test_canonical_turns_answers_into_plain_data():
    torch = pytest.importorskip("torch")
    value = canonical({"a": np.float32(0.5), "b": (1, True, None, "x"), "c": torch.ones(2, 3),
                       "d": np.bool_(True), "e": np.arange(3), 4: [np.int64(7)]})
    assert value == {"a": 0.5, "b": [1, True, None, "x"],
                     "c": {"__array__": [[1.0] * 3] * 2, "shape": [2, 3]}, "d": True,
                     "e": {"__array__": [0.0, 1.0, 2.0], "shape": [3]}, "4": [7]}
    assert type(canonical(_Magic())) is float and canonical(_Magic()) == 0.5
    with pytest.raises(TypeError):
        canonical(_Liar())
    with pytest.raises(TypeError, match="扱えません"):
        canonical(object())


def test_kernel_prelude_defines_a_private_emitter(capsys):
    namespace: dict = {"canonical": None, "json": None}
    exec(kernel_prelude(EMIT_NAME), namespace)
    namespace[EMIT_NAME]("@@m@@", lambda: [np.float64(1.5), {"k": "v"}])
    assert capsys.readouterr().out == '@@m@@[1.5, {"k": "v"}]\n'
    assert set(namespace) - {"__builtins__"} == {"canonical", "json", EMIT_NAME}


@pytest.mark.parametrize("text", [
    '{"__array__": [1, 2], "shape": [3]}', '{"__array__": [1, "x"], "shape": [2]}',
    '{"__array__": [1], "shape": [1], "x": 1}', "[1, 2", "Infinity1", "nan",
])
def test_decode_rejects_what_is_not_plain_data(text):
    with pytest.raises(EmissionError):
        decode(text)


def test_decode_reads_arrays_and_non_finite_numbers():
    value = decode('{"a": {"__array__": [[1, 2]], "shape": [1, 2]}, "b": NaN, "c": -Infinity}')
    assert value["a"].shape == (1, 2) and math.isnan(value["b"]) and value["c"] == -math.inf


# --------------------------------------------------------------------------- verdicts
def test_difference_is_tolerant_for_numbers_and_strict_otherwise():
    assert difference([0.8, 0.2], np.array([0.8, 0.2 + 1e-12]), 1e-9, 1e-7) is None
    assert difference(np.array(3.0), 3, 1e-9, 1e-7) is None
    assert "形が違います（(2,) が返りましたが、(3,) のはずです）" in difference([1, 2], [1, 2, 3], 0, 0)
    assert difference({"a": True}, {"a": 1}, 0, 0) == "答え['a'] の型が違います（真偽値 ではなく 数値 のはずです）"
    assert "足りないキー: ['b']" in difference({"a": 1}, {"a": 1, "b": 2}, 0, 0)
    assert difference("alignn", "megnet", 0, 0) == "答え が正解と違います"
    assert "0.123456" not in (difference([0.5], [0.123456], 0, 0) or ""), "never shows the answer"
    assert difference([float("nan")], [float("nan")], 0, 0) is None


def test_judge_runs_verdicts_in_the_grader():
    check = load_checks(CHECKS)["ex-concat"].checks[0]
    assert judge(check, [3, 6], [3, 6]) is None
    assert judge(check, [6, 3], [3, 6]) == "形が (6, 3) になりました。(3, 6) のはずです"
    verdict = grading.Check(**{**check.__dict__, "verdict": "assert got['x'] > 0, 'x を正に'"})
    assert judge(verdict, {"x": -1}, {"x": 1}) == "x を正に"
    assert judge(verdict, [1], {"x": 1}).startswith("答えの形式が違います（TypeError")


# --------------------------------------------------------------------------- submissions
def test_submission_ids_never_merge_and_never_collide(tmp_path):
    for path in ("alice.ipynb", "alice/hw.ipynb", "bob.IPYNB", "carol/05_8.ipynb", "x y.ipynb",
                 "x_y.ipynb", "dan/a.ipynb", "dan/b.ipynb", ".hidden/e.ipynb",
                 "f/.ipynb_checkpoints/f-checkpoint.ipynb", "notes.txt"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    found, notes = find_submissions(tmp_path)
    assert {s.student: s.relative for s in found} == {
        "alice": "alice.ipynb", "alice/hw": "alice/hw.ipynb", "bob": "bob.IPYNB",
        "carol": "carol/05_8.ipynb", "x y": "x y.ipynb", "x_y": "x_y.ipynb",
        "dan/a": "dan/a.ipynb", "dan/b": "dan/b.ipynb"}
    assert any("alice.ipynb, alice/hw.ipynb" in note for note in notes)
    assert any("フォルダ dan に提出物が 2 つ" in note for note in notes)
    names = {safe_name(s.student) for s in found}
    assert len(names) == len(found) and safe_name("x y") != safe_name("x_y")
    assert all("/" not in name for name in names)


# --------------------------------------------------------------------------- written answers
def test_written_answers_are_the_markdown_a_student_added(student_copy):
    nb = copy.deepcopy(student_copy)
    concept = next(c for c in nb.cells if c.metadata["exercise"] == "ex-concept"
                   and c.cell_type == "markdown")
    concept.source = concept.source.replace(grading.ANSWER_PLACEHOLDER, "結合に対応する。")
    nb.cells.insert(14, nbformat.v4.new_markdown_cell("損失が支配する。"))
    shared = [c.source for c in student_copy.cells if c.metadata["exercise"] is None]
    answers = written_answers(nb, submission_sections(nb, shared), student_copy)
    assert set(answers) == {"ex-concept", "ex-weights"}
    assert answers["ex-weights"] == "損失が支配する。" and "結合に対応する。" in answers["ex-concept"]
    assert written_answers(student_copy, submission_sections(student_copy, shared),
                           student_copy) == {}


def test_written_scores_merge_with_the_instructors_sheet():
    first = score_written("s", "e", 2, "rubric", "答え", None)
    assert first.points is None and first.note == ""
    row = dict(zip(("points", "comment", "answer_sha256"), ("1.5", "よい", first.sha)))
    kept = score_written("s", "e", 2, "rubric", "答え", row)
    assert (kept.points, kept.comment) == (1.5, "よい")
    changed = score_written("s", "e", 2, "rubric", "別の答え", row)
    assert changed.points is None and "解答が変わりました" in changed.note and changed.comment == "よい"
    for bad in ("3", "-1", "abc", "nan"):
        wrong = score_written("s", "e", 2, "rubric", "答え", {**row, "points": bad})
        assert wrong.points is None and "0〜2 の数ではありません" in wrong.note
    empty = score_written("s", "e", 2, "rubric", "", None)
    assert (empty.points, empty.note) == (0.0, "未回答")


def test_read_sheet_rejects_foreign_files(tmp_path):
    assert read_sheet(tmp_path / "missing.csv") == {}
    (tmp_path / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a written-answers sheet"):
        read_sheet(tmp_path / "other.csv")
    header = "student,exercise,points,comment,answer_sha256\n"
    (tmp_path / "twice.csv").write_text(header + "s,e,1,,x\ns,e,2,,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="a second row"):
        read_sheet(tmp_path / "twice.csv")


# --------------------------------------------------------------------------- gradebook
def _result(student: str, statuses: list[str], written: float | None) -> StudentResult:
    checks = load_checks(CHECKS)["ex-late"].checks
    exercise = ExerciseResult("ex-late", [CheckResult(c, s, "" if s == "passed" else "理由")
                                          for c, s in zip(checks, statuses)],
                              written_points=written, written_max=1.0)
    return StudentResult(student, f"{student}.ipynb", [exercise])


def test_gradebook_is_written_whole_with_totals_stats_and_feedback(tmp_path):
    results = [_result("a b", ["passed", "failed"], 1.0), _result("c", ["error", "error"], None)]
    paths = grading.write_gradebook(results, tmp_path / "out" / "grades.csv", ["ex-late"],
                                    {"ex-late": "後期融合"})
    rows = list(csv.DictReader(open(paths.summary, encoding="utf-8")))
    assert [(r["student"], r["points"], r["max_points"], r["written_pending"], r["ex-late"])
            for r in rows] == [("a b", "2", "4", "0", "2"), ("c", "0", "4", "1", "0")]
    stats = next(csv.DictReader(open(paths.stats, encoding="utf-8")))
    assert (stats["mean"], stats["zero"], stats["failed"], stats["error"]) == ("1", "1", "1", "1")
    feedback = sorted(p.name for p in paths.feedback.iterdir())
    assert feedback == sorted(f"{safe_name(s)}.md" for s in ("a b", "c"))
    assert not [p for p in paths.summary.parent.iterdir() if p.name.startswith(".")]
    text = (paths.feedback / f"{safe_name('a b')}.md").read_text(encoding="utf-8")
    assert "合計：**2 / 4 点**" in text and "## ex-late：後期融合（2 / 4 点）" in text
    assert "❌ チェック 2（2 点）：best_alpha が候補の中から MAE が最小になる重みを選ぶ — 不正解。理由" in text


def test_feedback_of_a_malformed_submission_says_what_to_do():
    result = _result("z", ["malformed", "malformed"], 0.0)
    result.malformed = "JSONDecodeError: ..."
    assert "提出し直してください" in feedback_text(result, {})


# --------------------------------------------------------------------------- command line
def _grade(*args: str) -> int:
    return cli.main(["grade", *args, "--checks", str(CHECKS), "--solution", str(SOLUTION)])


def test_empty_or_missing_submissions_never_touch_a_gradebook(tmp_path, capsys):
    out = tmp_path / "grades.csv"
    out.write_text("old gradebook\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    assert _grade(str(tmp_path / "empty"), "--out", str(out)) == 2
    assert _grade(str(tmp_path / "absent"), "--out", str(out)) == 2
    assert out.read_text(encoding="utf-8") == "old gradebook\n"
    assert "no submitted notebook" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--out", "{tmp}/folder"], "must name a .csv"),
    (["--out", "{tmp}/grades.csv/"], "is a folder"),
    (["--out", "{tmp}/a-file/grades.csv"], "cannot write"),
    (["--out", "{tmp}/subs/grades.csv"], "inside the submissions folder"),
    (["--keep", "{tmp}/subs/work"], "inside the submissions folder"),
    (["--timeout", "10", "--cell-timeout", "20"], "shorter than"),
])
def test_bad_arguments_stop_before_grading(tmp_path, capsys, extra, message):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.ipynb").write_text("{}")
    (tmp_path / "grades.csv").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "ok.csv")]
    assert _grade(str(tmp_path / "subs"), *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ok.csv").exists()


@pytest.mark.parametrize("option", [["--timeout", "-5"], ["--cell-timeout", "0"],
                                    ["--timeout", "inf"], ["--jobs", "0"]])
def test_bad_numbers_are_refused(tmp_path, option):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["grade", str(tmp_path), *option])
    assert exit_.value.code == 2


def test_gradebook_paths_sit_next_to_out():
    paths = gradebook_paths("results/grades.csv")
    assert (str(paths.written), str(paths.feedback)) == ("results/grades-written.csv",
                                                         "results/grades-feedback")


# --------------------------------------------------------------------------- the book's exercises
def test_book_exercises_follow_the_convention():
    solution = _read(BOOK_EXERCISES)
    _assert_no_solution(solution, grading.make_student_copy(solution))
    checks = [c for c in solution.cells if "check" in c.metadata.get("tags", [])]
    assert len(checks) == 8 and all(c.source.startswith("# 確認セル") for c in checks)
    assert all('print("確認 OK' in c.source for c in checks)
    text = BOOK_SOURCE.read_text(encoding="utf-8")
    assert "{exercise-start} " not in text, "one title per exercise: the heading above the box"
    assert text.count("# ## 演習 ") == 8 and "練習" not in text


def test_book_config_names_exercise_boxes_like_the_headings():
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert 'exercise: "演習 %s"' in config


def test_handed_out_student_copy_is_up_to_date():
    stale = grading.write_student_copies([BOOK_EXERCISES], ROOT / "students", check=True)
    assert not stale, "students/ is stale: run `make students`"


def test_emission_survives_json_round_trip():
    assert decode(json.dumps(canonical({"w": np.array([0.8, 0.2])})))["w"].tolist() == [0.8, 0.2]
