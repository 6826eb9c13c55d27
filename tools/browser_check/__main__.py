"""``python -m tools.browser_check BUILD``: see :mod:`tools.browser_check`."""
import sys

from . import main

sys.exit(main())
