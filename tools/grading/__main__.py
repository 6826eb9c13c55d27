"""``python -m tools.grading``: student copies and grading (see :mod:`tools.grading.cli`)."""
import sys

from .cli import main

sys.exit(main())
