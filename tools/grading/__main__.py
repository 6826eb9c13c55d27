"""``python -m tools.grading``: student copies and grading (see :mod:`tools.grading`)."""
import sys

from . import main

sys.exit(main())
