"""``python -m tools.grade SUBMISSIONS/ --out grades.csv``: grade submitted notebooks.

Same as ``python -m tools.grading grade ...``; see :mod:`tools.grading.cli` for the options.
"""
from __future__ import annotations

import sys

from .grading.cli import main

if __name__ == "__main__":
    sys.exit(main(["grade", *sys.argv[1:]]))
