"""The figures' common style: page width, minimum text size, the Japanese font, colours.

Every figure of the book is drawn at most :data:`PAGE_WIDTH_IN` wide: saved as PNG at
100 dpi with a tight bounding box (0.1 in of padding each side) it stays within
:data:`PAGE_WIDTH_PX`, the width Chromium gives a figure in a chapter at a 1280 px window,
so the browser shows it at its own size, and no text in it is smaller than
:data:`MIN_FONT_PT`. A
model family has one colour in every figure (:data:`FAMILY_COLORS`); data that are not
model families (data splits, elements, tasks) take :data:`OTHER_COLORS`, which holds none
of them.

Japanese glyphs come from ``matplotlib_fontja`` (IPAex Gothic, bundled with the package), so
figures render without a system CJK font, offline and on Colab. IPAex lacks a few symbols
(``≤ ≥``, Unicode sub/superscript digits other than ``² ³``); labels write them with
mathtext (``$\\leq$``, ``$y_1$``) instead. Introduced in: chapter 5.1.
"""
from __future__ import annotations

import functools
import itertools
from typing import Callable, Iterable

import matplotlib
from matplotlib.figure import Figure

__all__ = ["FONT_FAMILY", "PAGE_WIDTH_PX", "PAGE_WIDTH_IN", "MIN_FONT_PT", "FAMILY_COLORS", "OTHER_COLORS",
           "book_rc", "use_book_style", "styled", "new_figure", "family_of", "family_color",
           "model_colors"]

FONT_FAMILY = "IPAexGothic"
#: Width of a figure in a chapter at a 1280 px window, measured in Chromium.
PAGE_WIDTH_PX = 672
#: Widest figure (100 px per inch; the tight bounding box adds 0.2 in: 670 px).
PAGE_WIDTH_IN = 6.5
#: Smallest text in any figure, in points at 100 dpi (12.5 px on the page).
MIN_FONT_PT = 9.0
#: Model family -> (legend label, colour): the same in every figure of the book.
FAMILY_COLORS: dict[str, tuple[str, str]] = {
    "composition": ("組成ベース", "#4caf50"),
    "graph": ("グラフNN", "#667eea"),
    "hybrid": ("ハイブリッド", "#764ba2"),
    "multitask": ("マルチタスク", "#ff9800"),
    "baseline": ("参照モデル", "#9e9e9e"),
}
#: Colours of series that are not model families (none of them is a family colour).
OTHER_COLORS = ("#1f3a93", "#b35806", "#00798c", "#d1495b", "#8c510a", "#333333")


def book_rc() -> dict:
    """rcParams of the book style (registers the bundled Japanese font first)."""
    with matplotlib.rc_context():  # its import also sets font.family globally: undo that
        import matplotlib_fontja  # noqa: F401  (adds IPAex Gothic to matplotlib's font list)

    return {
        "font.family": [FONT_FAMILY],
        "mathtext.fontset": "dejavusans",
        "axes.unicode_minus": True,
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "xtick.labelsize": MIN_FONT_PT,
        "ytick.labelsize": MIN_FONT_PT,
        "legend.fontsize": MIN_FONT_PT,
        "legend.title_fontsize": MIN_FONT_PT,
        "figure.titlesize": 11,
        "legend.frameon": False,
        "image.cmap": "viridis",
        "axes.prop_cycle": matplotlib.cycler(color=list(OTHER_COLORS)),
    }


def use_book_style() -> None:
    """Set the book style globally (Japanese font, grid, no top/right spines).

    Inside IPython it also shows every returned ``Figure`` as PNG whatever the backend:
    ``make`` exports ``MPLBACKEND=Agg``, under which a kernel would print ``<Figure size …>``
    instead of the picture (and ``glue`` would store no image).
    """
    matplotlib.rcParams.update(book_rc())
    _show_figures_as_png()


def _show_figures_as_png() -> None:
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:  # plain Python: nothing to display
        return
    shell = get_ipython()
    if shell is not None:
        select_figure_formats(shell, {"png"}, bbox_inches="tight")


def styled(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a figure builder inside the book style without changing global rcParams."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(book_rc()):
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs):
    """A constrained-layout figure and its axes grid; ``width`` may not exceed the page."""
    if width > PAGE_WIDTH_IN:
        raise ValueError(f"a figure {width} in wide would be shrunk on the page "
                         f"(at most {PAGE_WIDTH_IN} in)")
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def family_of(model: str) -> str | None:
    """Family of a model given by experiment name (``"cgcnn"``) or display name (``"CGCNN"``)."""
    from .tables import MODELS

    if model in MODELS:
        return MODELS[model][1]
    return next((family for label, family in MODELS.values() if label == model), None)


def family_color(family: str) -> str:
    """Colour of a model family (:data:`FAMILY_COLORS`)."""
    if family not in FAMILY_COLORS:
        raise ValueError(f"unknown model family {family!r}; use {sorted(FAMILY_COLORS)}")
    return FAMILY_COLORS[family][1]


def model_colors(models: Iterable[str], families: dict[str, str] | None = None) -> list[str]:
    """One colour per model: its family's colour, else (no known family) the next other colour."""
    families = families or {}
    colors, others = [], itertools.cycle(OTHER_COLORS)
    for model in models:
        family = families.get(model) or family_of(model)
        colors.append(family_color(family) if family else next(others))
    return colors
