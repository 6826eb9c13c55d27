"""Student copies, hidden checks and nbval grading of the exercise notebooks.

Commands (run in the repository root; see :mod:`tools.grading.cli`)::

    python -m tools.grading students chapters/05_8_exercises.ipynb --out students [--check]
    python -m tools.grade SUBMISSIONS/ --out grades.csv [--jobs 2]

Modules, in the order a grading run uses them:

* :mod:`~tools.grading.notebook` — the exercise convention (sphinx-exercise gates, ``check``
  tags) and which cell belongs to which exercise;
* :mod:`~tools.grading.stubs`, :mod:`~tools.grading.student` — student copies;
* :mod:`~tools.grading.checks` — hidden-check files (``chapters/checks/LABEL.py``);
* :mod:`~tools.grading.submissions` — finding submissions and naming their students;
* :mod:`~tools.grading.graded` — one graded copy per exercise;
* :mod:`~tools.grading.emission`, :mod:`~tools.grading.plugin`, :mod:`~tools.grading.runner` —
  running a copy with nbval in an isolated kernel and getting its values back;
* :mod:`~tools.grading.verdict`, :mod:`~tools.grading.outcomes` — verdicts made in the grader;
* :mod:`~tools.grading.session` — a whole run (the reference first, then every submission);
* :mod:`~tools.grading.written`, :mod:`~tools.grading.gradebook` — written answers, the
  gradebook and the feedback files.

How a grade is decided: the hidden checks run in the student's kernel but only *emit values*
(the student's answers on inputs the checks choose); the grader compares them, outside the
kernel, with the values the reference solution emits in a clean kernel. Hooks that swallow
exceptions, patched libraries and objects that equal everything therefore earn nothing.
"""
from .checks import Check, ExerciseChecks, Written, load_checks
from .cli import main
from .gradebook import StudentResult, gradebook_paths, write_gradebook
from .notebook import exercise_labels
from .outcomes import STATUSES
from .session import GradingError, GradingRun, grade_submissions
from .student import ANSWER_HEADING, ANSWER_PLACEHOLDER, make_student_copy, write_student_copies
from .stubs import stub_code

__all__ = [
    "ANSWER_PLACEHOLDER", "ANSWER_HEADING", "STATUSES", "Check", "ExerciseChecks", "Written",
    "StudentResult", "GradingError", "GradingRun", "stub_code", "exercise_labels",
    "make_student_copy", "write_student_copies", "load_checks", "grade_submissions",
    "gradebook_paths", "write_gradebook", "main",
]
