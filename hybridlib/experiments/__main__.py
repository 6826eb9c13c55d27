"""``python -m hybridlib.experiments``: fill the run registry (see :mod:`.warmup`)."""
from .warmup import main

if __name__ == "__main__":
    main()
