"""Glue values and figures into the rendered book; a plain no-op outside a book build.

MyST-NB's ``glue`` stores a value in the notebook output so the prose can show it with
``{glue:text}`` (with a format, e.g. ``{glue:text}`mae:.3f```) / ``{glue:figure}``; in Colab or JupyterLab without ``myst-nb`` installed
the value is simply displayed when asked. Introduced in: chapter 5.1.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["glue"]


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Glue ``value`` under ``name`` (MyST-NB); returns the value for further use."""
    try:
        from myst_nb import glue as _glue
    except ImportError:  # Colab / plain Jupyter without the book toolchain
        if display:
            from IPython.display import display as _display

            _display(value)
        return value
    if isinstance(value, np.generic):  # np.float64 -> float: {glue:text}`x:.3f` needs a number
        value = value.item()
    _glue(name, value, display=display)
    return value

