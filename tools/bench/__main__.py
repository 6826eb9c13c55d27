"""``python -m tools.bench NAME``: speed and memory benchmarks (see :mod:`tools.bench`)."""
from . import main

main()
