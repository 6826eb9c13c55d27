"""The book's result figures: one style, Japanese labels, each helper returns a ``Figure``.

Call :func:`use_book_style` once (``hl.setup`` does it); every helper also draws inside the
book style, so figures look the same when it was not called. Figures are created with
``matplotlib.figure.Figure`` (not ``pyplot``): Jupyter shows a returned figure once, and
``hl.glue(name, fig, display=False)`` places it in the book. Each is at most the page width
with no text under :data:`MIN_FONT_PT`, and colours a model by its family
(:mod:`.style`). The architecture diagrams live in :mod:`.diagrams` and are re-exported
here, so ``hl.plots.megnet_block()`` works too.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatter, MaxNLocator, NullFormatter

from .diagrams import alignn_architecture, crystal_and_line_graph, fusion_taxonomy, megnet_block
from .style import (FAMILY_COLORS, FONT_FAMILY, MIN_FONT_PT, OTHER_COLORS, PAGE_WIDTH_IN,
                    book_rc, family_color, model_colors, new_figure, styled, use_book_style)

__all__ = [
    "FONT_FAMILY", "FAMILY_COLORS", "OTHER_COLORS", "PAGE_WIDTH_IN", "MIN_FONT_PT", "book_rc",
    "use_book_style", "parity", "bar_mae", "mae_vs_time", "learning_curve",
    "target_distributions", "alpha_curve", "source_weights", "task_weight_trajectory",
    "fusion_taxonomy", "alignn_architecture", "megnet_block", "crystal_and_line_graph",
]

TARGET_LABELS = {
    "e_form": ("生成エネルギー", "eV/atom"),
    "band_gap": ("バンドギャップ", "eV"),
}
_BOX_PAD = 0.3  # a label box's pad, in units of the font size
_BOX = dict(boxstyle=f"round,pad={_BOX_PAD}", fc="white", ec="0.8")
_MARKER_AREA = 70  # points², the size of a model's dot in mae_vs_time


def _finite_1d(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _model_table(table: pd.DataFrame | Mapping[str, float], required: Sequence[str]) -> pd.DataFrame:
    """Normalise a results table: a DataFrame with ``model`` + ``required`` columns,
    or a mapping ``{model: mae}``."""
    if isinstance(table, Mapping):
        table = pd.DataFrame({"model": list(table), "mae": list(table.values())})
    missing = [c for c in ("model", *required) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}; it has {list(table.columns)}")
    if table.empty:
        raise ValueError("table has no rows")
    for column in required:
        _finite_1d(table[column], f"column {column!r}")
    if "family" in table.columns:
        for family in table["family"]:
            family_color(family)  # raises on an unknown family
    return table.reset_index(drop=True)


def _table_colors(table: pd.DataFrame) -> list[str]:
    families = dict(zip(table["model"], table["family"])) if "family" in table.columns else None
    return model_colors(table["model"], families)


def _family_legend(fig: Figure, table: pd.DataFrame, extra: Sequence = ()) -> None:
    """Legend under the axes: the model families in the table (plus ``extra`` handles)."""
    handles = list(extra)
    if "family" in table.columns:
        handles += [Patch(color=FAMILY_COLORS[f][1], label=FAMILY_COLORS[f][0])
                    for f in dict.fromkeys(table["family"])]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))


def _display_name(model: str) -> str:
    from .tables import MODELS

    return MODELS[model][0] if model in MODELS else model


class _PlainLogFormatter(LogFormatter):
    """Log-axis tick labels as plain numbers (1.05, 0.1), not 1.05 × 10⁰ or 10⁻¹."""

    def _num_to_string(self, x, vmin, vmax) -> str:
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _plain_log_labels(axis) -> None:
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))


#: Offsets tried for a point's label, nearest first: (points right, points up) of the point;
#: a negative offset puts the label on that side (right/left-aligned, top/bottom-aligned).
_LABEL_OFFSETS = [(dx * r, dy * r) for r in (1.0, 1.6, 2.4, 3.6, 5.2)
                  for dx, dy in ((7, 5), (7, -5), (-7, 5), (-7, -5))]


def _place_labels(fig: Figure, ax, labels: list, points: np.ndarray, marker_pt: float) -> None:
    """Put each point's label at the nearest offset of :data:`_LABEL_OFFSETS` where it covers
    no marker, no label placed before and stays inside the axes (after the layout is done).

    Args:
        labels: annotations of some of the points, each at its point (``xycoords="data"``).
        points: ``(n, 2)`` data coordinates of every marker drawn.
        marker_pt: marker diameter in points.
    """
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    half = marker_pt / 2 * fig.dpi / 72 + 1
    centres = ax.transData.transform(np.asarray(points, dtype=float))
    inside = ax.get_window_extent(renderer)
    placed: list = []

    def clashes(box) -> int:
        outside = not (inside.x0 <= box.x0 and box.x1 <= inside.x1
                       and inside.y0 <= box.y0 and box.y1 <= inside.y1)
        on_markers = np.sum((centres[:, 0] + half > box.x0) & (centres[:, 0] - half < box.x1)
                            & (centres[:, 1] + half > box.y0) & (centres[:, 1] - half < box.y1))
        return int(outside) + int(on_markers) + sum(box.overlaps(b) for b in placed)

    def box_at(label, offset):
        dx, dy = offset
        label.set_horizontalalignment("left" if dx > 0 else "right")
        label.set_verticalalignment("bottom" if dy > 0 else "top")
        label.xyann = offset
        pad = _BOX_PAD * label.get_fontsize() * fig.dpi / 72 + 1  # the box's pad, and a pixel
        return label.get_window_extent(renderer).padded(pad)

    for label in sorted(labels, key=lambda a: a.xy[1]):
        best = min(_LABEL_OFFSETS, key=lambda o: clashes(box_at(label, o)))  # first of the least
        placed.append(box_at(label, best))


# --------------------------------------------------------------------------- results


@styled
def parity(y_true, y_pred_by_model: Mapping[str, Sequence[float]], unit: str, *,
           target: str = "", families: Mapping[str, str] | None = None) -> Figure:
    """Parity plots (prediction vs DFT value), one panel per model, MAE in each panel.

    Args:
        y_true: DFT values of the test materials.
        y_pred_by_model: model name -> predictions in the order of ``y_true``.
        unit: unit of the target, e.g. ``"eV/atom"``.
        target: Japanese name of the target for the axis labels (optional).
        families: model name -> family for the colours; by default looked up in
            ``hl.tables.MODELS`` (by experiment or display name).
    """
    y = _finite_1d(y_true, "y_true")
    if not y_pred_by_model:
        raise ValueError("y_pred_by_model is empty")
    preds = {name: _finite_1d(p, f"predictions of {name!r}") for name, p in y_pred_by_model.items()}
    for name, p in preds.items():
        if p.shape != y.shape:
            raise ValueError(f"predictions of {name!r} have {p.size} values, y_true has {y.size}")
    n = len(preds)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    width = min(PAGE_WIDTH_IN, 0.4 + 2.45 * ncols) if ncols > 1 else 3.8
    fig, axes = new_figure(width, nrows * (width / ncols + 0.45), nrows, ncols,
                           sharex=True, sharey=True)
    low = min(y.min(), *(p.min() for p in preds.values()))
    high = max(y.max(), *(p.max() for p in preds.values()))
    pad = 0.03 * (high - low or 1.0)
    limits = (low - pad, high + pad)
    span = limits[1] - limits[0]
    # the same ticks on both axes, none in the lower-left corner where the labels would meet
    ticks = [t for t in MaxNLocator(5).tick_values(*limits)
             if limits[0] + 0.1 * span < t <= limits[1]]
    prefix = f"{target} " if target else ""
    colors = model_colors(preds, dict(families or {}))
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        name, p = list(preds.items())[i]
        ax.plot(limits, limits, color="0.4", lw=1, ls="--", zorder=1)
        ax.scatter(y, p, s=6, alpha=0.4, color=colors[i], edgecolors="none", zorder=2)
        mae = float(np.mean(np.abs(p - y)))
        ax.text(0.04, 0.96, f"MAE = {mae:.3f}\nn = {y.size}", transform=ax.transAxes,
                va="top", fontsize=MIN_FONT_PT, bbox=_BOX)
        ax.set(xlim=limits, ylim=limits, xticks=ticks, yticks=ticks, aspect="equal", title=name)
        if i + ncols >= n:  # no panel below this one
            ax.xaxis.set_tick_params(labelbottom=True)
    fig.supxlabel(f"{prefix}DFT 計算値 ({unit})", fontsize=10)
    fig.supylabel(f"{prefix}予測値 ({unit})", fontsize=10)
    return fig


@styled
def bar_mae(table: pd.DataFrame | Mapping[str, float], unit: str = "eV/atom", *,
            baseline: str | None = None) -> Figure:
    """Horizontal bars of test MAE per model (best at the top), values written on the bars.

    Args:
        table: columns ``model``, ``mae``; optional ``mae_std`` (error bar over seeds) and
            ``family`` (one of :data:`FAMILY_COLORS`) for colours and legend. A mapping
            ``{model: mae}`` also works.
        unit: unit of the MAE.
        baseline: model whose MAE is drawn as a dashed reference line.
    """
    table = _model_table(table, ["mae"]).sort_values("mae", ascending=True, kind="stable")
    fig, axes = new_figure(PAGE_WIDTH_IN, 0.36 * len(table) + 1.6)
    ax = axes[0, 0]
    positions = np.arange(len(table))
    errors = table["mae_std"].to_numpy(float) if "mae_std" in table.columns else None
    ax.barh(positions, table["mae"], xerr=errors, color=_table_colors(table), capsize=3)
    for pos, value in zip(positions, table["mae"]):
        ax.text(value, pos, f" {value:.3f}", va="center", ha="left", fontsize=MIN_FONT_PT,
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none"))
    ax.set_yticks(positions, table["model"])
    ax.invert_yaxis()
    ax.set_xlabel(f"テスト MAE ({unit})　小さいほど良い")
    ax.set_xlim(0, table["mae"].max() * 1.22)
    ax.grid(axis="y", visible=False)
    extra = []
    if baseline is not None:
        if baseline not in set(table["model"]):
            raise ValueError(f"baseline {baseline!r} is not a model in the table")
        ref = float(table.loc[table["model"] == baseline, "mae"].iloc[0])
        extra.append(ax.axvline(ref, color="crimson", ls="--", lw=1, label=f"{baseline}（基準）"))
    _family_legend(fig, table, extra)
    return fig


@styled
def mae_vs_time(table: pd.DataFrame, unit: str = "eV/atom") -> Figure:
    """Accuracy against training cost: test MAE vs training time (log scale), one point a model.

    Only the models on the Pareto front (none is both faster and more accurate) are named and
    joined by a dashed line (each name beside its dot, on the nearest side where it covers no
    dot and no other name); the others are dots in their family's colour, named in the table
    the chapter prints beside the figure.

    Args:
        table: columns ``model``, ``mae``, ``train_time_s`` (seconds measured in this run);
            optional ``family`` for colours.
        unit: unit of the MAE.
    """
    from .tables import pareto_front

    table = _model_table(table, ["mae", "train_time_s"])
    if (table["train_time_s"] <= 0).any():
        raise ValueError("train_time_s must be positive (log scale)")
    fig, axes = new_figure(PAGE_WIDTH_IN, 4.6)
    ax = axes[0, 0]
    ax.scatter(table["train_time_s"], table["mae"], s=_MARKER_AREA, color=_table_colors(table),
               edgecolors="black", linewidths=0.8, zorder=3)
    front = table[pareto_front(table)].sort_values("train_time_s")
    line = ax.plot(front["train_time_s"], front["mae"], color="0.35", ls="--", lw=1,
                   drawstyle="steps-post", zorder=2, label="パレート最適（名前つき）")[0]
    labels = [ax.annotate(row["model"], (row["train_time_s"], row["mae"]), xytext=(7, 5),
                          textcoords="offset points", fontsize=MIN_FONT_PT, bbox=_BOX,
                          arrowprops=dict(arrowstyle="-", color="0.45", lw=0.7,
                                          shrinkA=0, shrinkB=5))
              for _, row in front.iterrows()]
    ax.set_xscale("log")
    _plain_log_labels(ax.xaxis)
    ax.set_xlabel("学習時間（秒、対数軸）")
    ax.set_ylabel(f"テスト MAE ({unit})")
    ax.set_title("精度と学習コスト（左下ほど良い）")
    ax.margins(x=0.3, y=0.18)
    _family_legend(fig, table, [line])
    _place_labels(fig, ax, labels, table[["train_time_s", "mae"]].to_numpy(),
                  marker_pt=np.sqrt(_MARKER_AREA))
    return fig


@styled
def learning_curve(sizes: Sequence[int], maes_by_model: Mapping[str, Sequence[float]],
                   unit: str = "eV/atom") -> Figure:
    """Test MAE against the number of training materials (log-log), one line per model.

    Models given by experiment name (``"rf_magpie"``) are shown by their display name;
    each line has its family's colour.
    """
    n = _finite_1d(sizes, "sizes")
    if np.any(n <= 0):
        raise ValueError("sizes must be positive")
    if not maes_by_model:
        raise ValueError("maes_by_model is empty")
    fig, axes = new_figure(6.0, 4.2)
    ax = axes[0, 0]
    for (name, maes), color in zip(maes_by_model.items(), model_colors(maes_by_model)):
        values = _finite_1d(maes, f"MAEs of {name!r}")
        if values.shape != n.shape:
            raise ValueError(f"{name!r} has {values.size} MAEs for {n.size} sizes")
        ax.plot(n, values, marker="o", label=_display_name(name), color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(n, [f"{int(v):,}" for v in n])  # the measured sizes, not 2e+03
    ax.xaxis.set_minor_formatter(NullFormatter())
    _plain_log_labels(ax.yaxis)
    ax.set_xlabel("学習データ数（物質数、対数軸）")
    ax.set_ylabel(f"テスト MAE ({unit}、対数軸)")
    ax.set_title("学習曲線")
    ax.legend()
    return fig


@styled
def target_distributions(df: pd.DataFrame, bins: int = 60) -> Figure:
    """Histograms of formation energy and band gap; the share of zero gaps is written on it.

    Args:
        df: a table with ``e_form`` (eV/atom) and ``band_gap`` (eV) columns.
        bins: histogram bins.
    """
    missing = [c for c in TARGET_LABELS if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks columns {missing}")
    fig, axes = new_figure(PAGE_WIDTH_IN, 3.4, 1, 2)
    for ax, (column, (label, unit)), color in zip(axes[0], TARGET_LABELS.items(), OTHER_COLORS):
        values = _finite_1d(df[column], f"column {column!r}")
        ax.hist(values, bins=bins, color=color, alpha=0.85)
        ax.set_xlabel(f"{label} ({unit})")
        ax.set_ylabel("物質数")
        ax.set_title(f"{label}（n = {values.size:,}）")
    gap = df["band_gap"].to_numpy(float)
    axes[0, 1].text(0.97, 0.95, f"ギャップ 0（金属）\n{np.mean(gap == 0):.1%}",
                    transform=axes[0, 1].transAxes, ha="right", va="top",
                    fontsize=MIN_FONT_PT, bbox=_BOX)
    return fig


@styled
def alpha_curve(alphas: Sequence[float], val_mae: Sequence[float], test_mae: Sequence[float],
                alpha_val: float, alpha_train: float | None = None,
                unit: str = "eV/atom") -> Figure:
    """Late-fusion MAE against the RF weight α, with the α chosen on validation (and on training).

    ``ŷ = α ŷ_RF + (1 − α) ŷ_CGCNN``; α = 0 is CGCNN alone, α = 1 the random forest alone.
    Validation is the blue curve, test the orange one, the α chosen on training data a red
    dashed line.
    """
    a = _finite_1d(alphas, "alphas")
    val = _finite_1d(val_mae, "val_mae")
    test = _finite_1d(test_mae, "test_mae")
    if not (a.shape == val.shape == test.shape):
        raise ValueError(f"alphas, val_mae, test_mae differ in length: {a.size}, {val.size}, {test.size}")
    blue, orange = OTHER_COLORS[:2]
    fig, axes = new_figure(6.4, 4.0)
    ax = axes[0, 0]
    ax.plot(a, val, marker="o", ms=3, label="検証 MAE", color=blue)
    ax.plot(a, test, marker="s", ms=3, label="テスト MAE", color=orange)
    ax.axvline(alpha_val, color="0.2", lw=1.5,
               label=rf"検証で選んだ $\alpha$ = {alpha_val:.2f}")
    if alpha_train is not None:
        ax.axvline(alpha_train, color="crimson", ls="--", lw=1.2,
                   label=rf"訓練データで選んだ $\alpha$ = {alpha_train:.2f}")
    ax.set_xlabel(r"RF の重み $\alpha$（0 = CGCNN のみ、1 = RF のみ）")
    ax.set_ylabel(f"MAE ({unit})")
    ax.set_title(r"Late Fusion：$\hat{y} = \alpha\,\hat{y}_{RF} + (1-\alpha)\,\hat{y}_{CGCNN}$")
    ax.legend()
    return fig


@styled
def source_weights(table: pd.DataFrame, column: str = "w_structure",
                   group: str = "class", bins: int = 30) -> Figure:
    """Histogram of per-material attention weights of one source, one colour per group.

    Args:
        table: one row per material with ``column`` (weights in [0, 1]) and ``group``.
        column: weight column (``w_structure`` or ``w_composition``).
        group: column with the group label of each material (e.g. metal / non-metal).
    """
    missing = [c for c in (column, group) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}")
    values = _finite_1d(table[column], f"column {column!r}")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(f"column {column!r} holds values outside [0, 1]")
    fig, axes = new_figure(6.0, 3.8)
    ax = axes[0, 0]
    edges = np.linspace(0, 1, bins + 1)
    for (name, part), color in zip(table.groupby(group), itertools.cycle(OTHER_COLORS)):
        ax.hist(part[column], bins=edges, alpha=0.6, label=f"{name} (n = {len(part)})",
                color=color)
    label = "構造" if column == "w_structure" else "組成"
    ax.set_xlabel(f"{label}側の Attention 重み")
    ax.set_ylabel("物質数")
    ax.set_title(f"物質ごとの{label}側の重み")
    ax.legend()
    return fig


@styled
def task_weight_trajectory(trajectory: Sequence[Sequence[float]], names: Sequence[str]) -> Figure:
    """Learned task weights λ_k against the training step (log scale), one line per task."""
    weights = np.asarray(trajectory, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != len(names) or weights.shape[0] == 0:
        raise ValueError(f"trajectory must be (steps, {len(names)}), got {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError("trajectory holds non-finite or non-positive weights")
    fig, axes = new_figure(6.0, 3.8)
    ax = axes[0, 0]
    steps = np.arange(1, weights.shape[0] + 1)
    for k, (name, color) in enumerate(zip(names, itertools.cycle(OTHER_COLORS))):
        ax.plot(steps, weights[:, k], label=name, color=color)
    ax.set_yscale("log")
    _plain_log_labels(ax.yaxis)
    ax.set_xlabel("学習ステップ")
    ax.set_ylabel(r"タスクの重み $\lambda_k = e^{-s_k}$（対数軸）")
    ax.set_title("不確実性による重み付けで学習された重み")
    ax.legend()
    return fig
