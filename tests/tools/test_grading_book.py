"""The book's exercises graded end to end on the ``ci`` profile (reads the warmed run registry).

The reference solution must pass its own hidden checks (grading stops otherwise); the untouched
student copy gets 0 everywhere; a submission with the conceptual errors the checks exist for gets
exactly the points of what it did right: α fitted on the training split and ties broken towards
the larger α (ex-2), a class merely named ``EarlyFusion`` (ex-1), columns permuted one by one
instead of a block's rows together (ex-8), a wrong method for scenario B (ex-5) — while a correct
``GatedFusion`` that stores its GNN as ``self.encoder`` keeps all its points (ex-6).
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tools import grading

ROOT = Path(__file__).resolve().parents[2]
BOOK_EXERCISES = ROOT / "chapters" / "05_8_exercises.ipynb"
BOOK_CHECKS = ROOT / "chapters" / "checks"

FAKE_EARLY_FUSION = '''class EarlyFusion(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.dropout, self.linear = 0.5, nn.Linear(width, 1)

    def forward(self, batch):
        return self.linear(batch.comp)


def regularized_model(train_graphs) -> nn.Module:
    return EarlyFusion(train_graphs[0].comp.shape[-1])
'''


def _replace(nb: nbformat.NotebookNode, old: str, new: str) -> None:
    cells = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(cells) == 1, f"{old!r} in {len(cells)} cells"
    cells[0].source = cells[0].source.replace(old, new)


def conceptual_errors(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution with the conceptual errors of the module docstring."""
    nb = nbformat.from_dict(solution)
    regularized = next(c for c in nb.cells if c.source.startswith("def regularized_model"))
    regularized.source = FAKE_EARLY_FUSION + regularized.source.split("\n\n\n", 1)[1]
    _replace(nb, "[maes == maes.min()]))", "[maes == maes.min()].max()))")
    _replace(nb, "grid)\nalphas", 'grid)\nalphas = {"val": alphas["train"], "train": alphas["val"]}')
    _replace(nb, '"B": "alignn"', '"B": "megnet_multitask"')
    _replace(nb, "self.gnn = gnn", "self.encoder = gnn")
    _replace(nb, "self.gnn.embed(batch)", "self.encoder.embed(batch)")
    _replace(nb, "shuffled[:, cols] = X[rng.permutation(len(X))][:, cols]",
             "for c in range(X.shape[1])[cols]:\n"
             "                shuffled[:, c] = X[rng.permutation(len(X)), c]")
    return nb


EXPECTED = {
    "student": {f"ex-05-8-{i}": (0, "error") for i in range(1, 9)},
    "concepts": {"ex-05-8-1": (3, "failed"), "ex-05-8-2": (1, "failed"),
                 "ex-05-8-3": (3, "passed"), "ex-05-8-4": (2, "passed"),
                 "ex-05-8-5": (2, "failed"), "ex-05-8-6": (4, "passed"),
                 "ex-05-8-7": (2, "passed"), "ex-05-8-8": (2, "failed")},
}


@pytest.mark.slow
def test_book_exercises_grade_concepts_not_names(tmp_path, shared_cache):
    solution = nbformat.read(BOOK_EXERCISES, as_version=4)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(grading.make_student_copy(solution), submissions / "student.ipynb")
    nbformat.write(conceptual_errors(solution), submissions / "concepts.ipynb")
    run = grading.grade_submissions(submissions, checks=BOOK_CHECKS, solution=BOOK_EXERCISES,
                                    cache=Path(os.environ["HYBRIDLIB_CACHE_DIR"]),
                                    cell_timeout=900, timeout=1800, jobs=2)
    got = {r.student: {e.label: (e.auto_points, e.status) for e in r.exercises}
           for r in run.results}
    messages = {(r.student, e.label): e.message for r in run.results for e in r.exercises}
    assert got == EXPECTED, messages
    assert "最も小さい α" in messages["concepts", "ex-05-8-2"]
    assert "alphas[\"val\"]" in messages["concepts", "ex-05-8-2"]
    assert "同じ行の並べ替え" in messages["concepts", "ex-05-8-8"]
    assert "hl.models.EarlyFusion" in messages["concepts", "ex-05-8-1"]
    assert {r.student: r.max_points for r in run.results} == {"student": 38, "concepts": 38}
    print(f"reference {run.reference.seconds:.0f} s; kernel seconds per student: "
          + ", ".join(f"{r.student} {r.seconds:.0f} s" for r in run.results)
          + f"; whole run {run.seconds:.0f} s")
