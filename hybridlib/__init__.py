"""hybridlib: the helper package behind the hybrid-models chapter (第5章 ハイブリッドアプローチ).

Import it as ``import hybridlib as hl`` and call ``hl.setup(seed=0)`` first: it seeds every
generator, sets the plot style (Japanese font) and keeps progress bars quiet under CI.
Submodules load on first use (``hl.data``, ``hl.features``, ``hl.graphs``, ``hl.models``, ...).
"""
from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"
__all__ = ["setup", "glue", "__version__"]

#: Short names the chapters use for modules of the report layer (``hl.plots``, ...).
_ALIASES = {name: f"report.{name}" for name in
            ("plots", "tables", "widgets", "analysis", "literature")}


def setup(seed: int = 0, *, plots: bool = True) -> None:
    """Seed python/numpy/torch, make CPU kernels deterministic, set the plot style."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if plots:
        from .report import plots as _plots

        _plots.use_book_style()


def glue(name: str, value, display: bool = False):
    """Glue ``value`` into the rendered book (:func:`hybridlib.report.glue.glue`)."""
    from .report.glue import glue as _glue

    return _glue(name, value, display=display)


def __getattr__(name: str):
    """Load submodules on first use: ``hl.data``, ``hl.models``, ``hl.plots`` (report), ..."""
    if name in _ALIASES:
        return importlib.import_module(f".{_ALIASES[name]}", __name__)
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hybridlib' has no attribute {name!r}")
