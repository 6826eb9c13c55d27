"""The book's figures: one style, Japanese labels, each helper returns a ``Figure``.

Call :func:`use_book_style` once (``hl.setup`` does it); every helper also draws inside the
book style, so figures look the same when it was not called. Figures are created with
``matplotlib.figure.Figure`` (not ``pyplot``): Jupyter shows a returned figure once, and
``myst_nb.glue(name, fig, display=False)`` places it in the book.

Japanese glyphs come from ``matplotlib_fontja`` (IPAex Gothic, bundled with the package), so
figures render without a system CJK font, offline and on Colab. IPAex lacks a few symbols
(``≤ ≥``, Unicode sub/superscript digits other than ``² ³``); labels here write them with
mathtext (``$\\leq$``, ``$y_1$``) instead.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.collections import LineCollection
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch

__all__ = [
    "FONT_FAMILY", "FAMILY_COLORS", "book_rc", "use_book_style",
    "parity", "bar_mae", "mae_vs_time", "learning_curve", "target_distributions",
    "alpha_curve", "source_weights", "task_weight_trajectory", "fusion_taxonomy",
    "alignn_architecture", "megnet_block", "crystal_and_line_graph",
]

FONT_FAMILY = "IPAexGothic"
#: Model family -> (legend label, colour); the colours of the seed chapter's diagrams.
FAMILY_COLORS: dict[str, tuple[str, str]] = {
    "composition": ("組成ベース", "#4caf50"),
    "graph": ("グラフNN", "#667eea"),
    "hybrid": ("ハイブリッド", "#764ba2"),
    "multitask": ("マルチタスク", "#ff9800"),
    "baseline": ("参照モデル", "#9e9e9e"),
}
_MODEL_COLORS = ("#667eea", "#4caf50", "#ff9800", "#764ba2", "#e91e63", "#00897b", "#795548")
TARGET_LABELS = {
    "e_form": ("生成エネルギー", "eV/atom"),
    "band_gap": ("バンドギャップ", "eV"),
}


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
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.frameon": False,
        "image.cmap": "viridis",
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


def _styled(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a figure builder inside the book style without changing global rcParams."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(book_rc()):
            return draw(*args, **kwargs)

    return wrapper


def _new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs):
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


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
    return table.reset_index(drop=True)


def _family_colors(table: pd.DataFrame) -> list[str]:
    if "family" not in table.columns:
        return [_MODEL_COLORS[i % len(_MODEL_COLORS)] for i in range(len(table))]
    unknown = sorted(set(table["family"]) - set(FAMILY_COLORS))
    if unknown:
        raise ValueError(f"unknown model families {unknown}; use {sorted(FAMILY_COLORS)}")
    return [FAMILY_COLORS[f][1] for f in table["family"]]


def _legend_outside(ax, table: pd.DataFrame) -> None:
    """Legend right of the axes: the model families (if given) plus labelled artists."""
    handles, _ = ax.get_legend_handles_labels()
    if "family" in table.columns:
        handles += [Patch(color=FAMILY_COLORS[f][1], label=FAMILY_COLORS[f][0])
                    for f in dict.fromkeys(table["family"])]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))


# --------------------------------------------------------------------------- results


@_styled
def parity(y_true, y_pred_by_model: Mapping[str, Sequence[float]], unit: str, *,
           target: str = "") -> Figure:
    """Parity plots (prediction vs DFT value), one panel per model, MAE in each panel.

    Args:
        y_true: DFT values of the test materials.
        y_pred_by_model: model name -> predictions in the order of ``y_true``.
        unit: unit of the target, e.g. ``"eV/atom"``.
        target: Japanese name of the target for the axis labels (optional).
    """
    y = _finite_1d(y_true, "y_true")
    if not y_pred_by_model:
        raise ValueError("y_pred_by_model is empty")
    preds = {name: _finite_1d(p, f"predictions of {name!r}") for name, p in y_pred_by_model.items()}
    for name, p in preds.items():
        if p.shape != y.shape:
            raise ValueError(f"predictions of {name!r} have {p.size} values, y_true has {y.size}")
    n = len(preds)
    fig, axes = _new_figure(3.6 * n, 3.7, 1, n)
    low = min(y.min(), *(p.min() for p in preds.values()))
    high = max(y.max(), *(p.max() for p in preds.values()))
    pad = 0.03 * (high - low or 1.0)
    limits = (low - pad, high + pad)
    prefix = f"{target} " if target else ""
    for i, (ax, (name, p)) in enumerate(zip(axes[0], preds.items())):
        ax.plot(limits, limits, color="0.4", lw=1, ls="--", zorder=1)
        ax.scatter(y, p, s=6, alpha=0.4, color=_MODEL_COLORS[i % len(_MODEL_COLORS)],
                   edgecolors="none", zorder=2)
        mae = float(np.mean(np.abs(p - y)))
        ax.text(0.04, 0.96, f"MAE = {mae:.3f} {unit}\nn = {y.size}", transform=ax.transAxes,
                va="top", fontsize=9, bbox=dict(boxstyle="round", fc="white", ec="0.8"))
        ax.set(xlim=limits, ylim=limits, aspect="equal", title=name,
               xlabel=f"{prefix}DFT 計算値 ({unit})")
        ax.set_ylabel(f"{prefix}予測値 ({unit})" if i == 0 else "")
    return fig


@_styled
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
    fig, axes = _new_figure(6.4, 0.45 * len(table) + 1.4)
    ax = axes[0, 0]
    positions = np.arange(len(table))
    errors = table["mae_std"].to_numpy(float) if "mae_std" in table.columns else None
    ax.barh(positions, table["mae"], xerr=errors, color=_family_colors(table), capsize=3)
    for pos, value in zip(positions, table["mae"]):
        ax.text(value, pos, f" {value:.3f}", va="center", ha="left", fontsize=9)
    ax.set_yticks(positions, table["model"])
    ax.invert_yaxis()
    ax.set_xlabel(f"テスト MAE ({unit})　小さいほど良い")
    ax.set_xlim(0, table["mae"].max() * 1.22)
    ax.grid(axis="y", visible=False)
    if baseline is not None:
        if baseline not in set(table["model"]):
            raise ValueError(f"baseline {baseline!r} is not a model in the table")
        ref = float(table.loc[table["model"] == baseline, "mae"].iloc[0])
        ax.axvline(ref, color="crimson", ls="--", lw=1, label=f"{baseline}（基準）")
    _legend_outside(ax, table)
    return fig


@_styled
def mae_vs_time(table: pd.DataFrame, unit: str = "eV/atom") -> Figure:
    """Accuracy against training cost: test MAE vs training time (log scale), one point a model.

    Args:
        table: columns ``model``, ``mae``, ``train_time_s`` (seconds measured in this run);
            optional ``family`` for colours.
        unit: unit of the MAE.
    """
    table = _model_table(table, ["mae", "train_time_s"])
    if (table["train_time_s"] <= 0).any():
        raise ValueError("train_time_s must be positive (log scale)")
    fig, axes = _new_figure(6.4, 4.2)
    ax = axes[0, 0]
    ax.scatter(table["train_time_s"], table["mae"], s=80, color=_family_colors(table),
               edgecolors="black", linewidths=0.8, zorder=3)
    for _, row in table.iterrows():
        ax.annotate(row["model"], (row["train_time_s"], row["mae"]), xytext=(6, 4),
                    textcoords="offset points", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlabel("学習時間（秒、対数軸）")
    ax.set_ylabel(f"テスト MAE ({unit})")
    ax.set_title("精度と学習コストのトレードオフ（左下ほど良い）")
    ax.margins(x=0.25, y=0.15)
    _legend_outside(ax, table)
    return fig


@_styled
def learning_curve(sizes: Sequence[int], maes_by_model: Mapping[str, Sequence[float]],
                   unit: str = "eV/atom") -> Figure:
    """Test MAE against the number of training materials (log-log), one line per model."""
    n = _finite_1d(sizes, "sizes")
    if np.any(n <= 0):
        raise ValueError("sizes must be positive")
    if not maes_by_model:
        raise ValueError("maes_by_model is empty")
    fig, axes = _new_figure(6.0, 4.2)
    ax = axes[0, 0]
    for i, (name, maes) in enumerate(maes_by_model.items()):
        values = _finite_1d(maes, f"MAEs of {name!r}")
        if values.shape != n.shape:
            raise ValueError(f"{name!r} has {values.size} MAEs for {n.size} sizes")
        ax.plot(n, values, marker="o", label=name, color=_MODEL_COLORS[i % len(_MODEL_COLORS)])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("学習データ数（物質数、対数軸）")
    ax.set_ylabel(f"テスト MAE ({unit}、対数軸)")
    ax.set_title("学習曲線")
    ax.legend()
    return fig


@_styled
def target_distributions(df: pd.DataFrame, bins: int = 60) -> Figure:
    """Histograms of formation energy and band gap; the share of zero gaps is written on it.

    Args:
        df: a table with ``e_form`` (eV/atom) and ``band_gap`` (eV) columns.
        bins: histogram bins.
    """
    missing = [c for c in TARGET_LABELS if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks columns {missing}")
    fig, axes = _new_figure(9.0, 3.6, 1, 2)
    for ax, (column, (label, unit)), color in zip(axes[0], TARGET_LABELS.items(),
                                                  ("#667eea", "#ff9800")):
        values = _finite_1d(df[column], f"column {column!r}")
        ax.hist(values, bins=bins, color=color, alpha=0.85)
        ax.set_xlabel(f"{label} ({unit})")
        ax.set_ylabel("物質数")
        ax.set_title(f"{label}の分布（n = {values.size:,}）")
    gap = df["band_gap"].to_numpy(float)
    axes[0, 1].text(0.97, 0.95, f"ギャップ = 0（金属）: {np.mean(gap == 0):.1%}",
                    transform=axes[0, 1].transAxes, ha="right", va="top", fontsize=9,
                    bbox=dict(boxstyle="round", fc="white", ec="0.8"))
    return fig


@_styled
def alpha_curve(alphas: Sequence[float], val_mae: Sequence[float], test_mae: Sequence[float],
                alpha_val: float, alpha_train: float | None = None,
                unit: str = "eV/atom") -> Figure:
    """Late-fusion MAE against the RF weight α, with the α chosen on validation (and on training).

    ``ŷ = α ŷ_RF + (1 − α) ŷ_CGCNN``; α = 0 is CGCNN alone, α = 1 the random forest alone.
    """
    a = _finite_1d(alphas, "alphas")
    val = _finite_1d(val_mae, "val_mae")
    test = _finite_1d(test_mae, "test_mae")
    if not (a.shape == val.shape == test.shape):
        raise ValueError(f"alphas, val_mae, test_mae differ in length: {a.size}, {val.size}, {test.size}")
    fig, axes = _new_figure(6.0, 4.0)
    ax = axes[0, 0]
    ax.plot(a, val, marker="o", ms=3, label="検証 MAE", color="#667eea")
    ax.plot(a, test, marker="s", ms=3, label="テスト MAE", color="#ff9800")
    ax.axvline(alpha_val, color="#4caf50", lw=1.5,
               label=rf"検証で選んだ $\alpha$ = {alpha_val:.2f}")
    if alpha_train is not None:
        ax.axvline(alpha_train, color="crimson", ls="--", lw=1.2,
                   label=rf"訓練データで選んだ $\alpha$ = {alpha_train:.2f}")
    ax.set_xlabel(r"RF の重み $\alpha$（0 = CGCNN のみ、1 = RF のみ）")
    ax.set_ylabel(f"MAE ({unit})")
    ax.set_title(r"Late Fusion：$\hat{y} = \alpha\,\hat{y}_{RF} + (1-\alpha)\,\hat{y}_{CGCNN}$")
    ax.legend(fontsize=9)
    return fig


@_styled
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
    fig, axes = _new_figure(6.0, 3.8)
    ax = axes[0, 0]
    edges = np.linspace(0, 1, bins + 1)
    for i, (name, part) in enumerate(table.groupby(group)):
        ax.hist(part[column], bins=edges, alpha=0.6, label=f"{name} (n = {len(part)})",
                color=_MODEL_COLORS[i % len(_MODEL_COLORS)])
    label = "構造" if column == "w_structure" else "組成"
    ax.set_xlabel(f"{label}側の Attention 重み")
    ax.set_ylabel("物質数")
    ax.set_title(f"物質ごとの{label}側の重み")
    ax.legend(fontsize=9)
    return fig


@_styled
def task_weight_trajectory(trajectory: Sequence[Sequence[float]], names: Sequence[str]) -> Figure:
    """Learned task weights λ_k against the training step (log scale), one line per task."""
    weights = np.asarray(trajectory, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != len(names) or weights.shape[0] == 0:
        raise ValueError(f"trajectory must be (steps, {len(names)}), got {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError("trajectory holds non-finite or non-positive weights")
    fig, axes = _new_figure(6.0, 3.8)
    ax = axes[0, 0]
    steps = np.arange(1, weights.shape[0] + 1)
    for k, name in enumerate(names):
        ax.plot(steps, weights[:, k], label=name, color=_MODEL_COLORS[k % len(_MODEL_COLORS)])
    ax.set_yscale("log")
    ax.set_xlabel("学習ステップ")
    ax.set_ylabel(r"タスクの重み $\lambda_k = e^{-s_k}$（対数軸）")
    ax.set_title("不確実性による重み付けで学習された重み")
    ax.legend()
    return fig


# --------------------------------------------------------------------------- diagrams


def _box(ax, x: float, y: float, text: str, color: str, *, width: float = 2.2,
         height: float = 0.8, fontsize: float = 9.5, text_color: str = "white") -> None:
    """A rounded, filled box centred at (x, y)."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                fc=color, ec="0.25", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=text_color,
            linespacing=1.3)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], *, label: str = "",
           style: str = "-|>", rad: float = 0.0, color: str = "0.25") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, lw=1.2,
                                 color=color, connectionstyle=f"arc3,rad={rad}",
                                 shrinkA=0, shrinkB=0))
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, label, fontsize=8.5,
                ha="center", va="bottom", color="0.2")


def _diagram(width: float, height: float, xlim: tuple[float, float], ylim: tuple[float, float]):
    fig, axes = _new_figure(width, height)
    ax = axes[0, 0]
    ax.set(xlim=xlim, ylim=ylim, aspect="equal")
    ax.axis("off")
    return fig, ax


@_styled
def fusion_taxonomy() -> Figure:
    """The three ways to combine composition and structure (the seed's strategy tree)."""
    fig, ax = _diagram(11.5, 5.2, (0, 15.6), (0, 7))
    _box(ax, 7.8, 6.2, "ハイブリッド統合戦略", "#667eea", width=3.4)
    branches = [
        (2.6, "Early Fusion\n特徴量レベルで統合", "#4caf50",
         ["単純連結\nMagpie + GNN 埋め込み", "重み付き結合\nAttention 機構"]),
        (7.8, "Late Fusion\n予測レベルで統合", "#ff9800",
         ["単純平均\nRF 予測 + CGCNN 予測", "スタッキング\nメタモデルを学習"]),
        (13.0, "Intermediate Fusion\n中間層で統合", "#764ba2",
         ["ALIGNN\n線グラフ + 原子グラフ", "MEGNet\n多スケールの集約"]),
    ]
    for x, title, color, leaves in branches:
        _box(ax, x, 4.2, title, color, width=3.4, height=1.0)
        _arrow(ax, (7.8, 5.8), (x, 4.7))
        for dx, leaf in zip((-1.25, 1.25), leaves):
            lx, ly = x + dx, 1.7
            _box(ax, lx, ly, leaf, "white", width=2.4, height=1.05, fontsize=8.5,
                 text_color="black")
            _arrow(ax, (x, 3.7), (lx, ly + 0.53))
    ax.text(7.8, 0.35, r"Early: $h = [h_{comp}\,;\,h_{GNN}]$　　"
            r"Late: $\hat{y} = \alpha\,\hat{y}_{RF} + (1-\alpha)\,\hat{y}_{CGCNN}$",
            ha="center", fontsize=9.5)
    return fig


@_styled
def alignn_architecture() -> Figure:
    """ALIGNN's data flow: atom graph and line graph, updated in turn, then pooled."""
    fig, ax = _diagram(12.0, 4.4, (0, 20.5), (0, 7))
    purple, blue, green = "#764ba2", "#667eea", "#4caf50"
    _box(ax, 1.5, 3.5, "結晶構造", blue, width=2.4)
    _box(ax, 5.0, 5.2, "原子グラフ\nノード = 原子\nエッジ = 結合（距離）", "#5c6bc0",
         width=3.2, height=1.5, fontsize=8.5)
    _box(ax, 5.0, 1.8, "線グラフ\nノード = 結合\nエッジ = 結合角（cos θ）", "#5c6bc0",
         width=3.2, height=1.5, fontsize=8.5)
    _box(ax, 9.6, 1.8, "線グラフ畳み込み\n結合・結合角の特徴を更新", "#8e7cc3",
         width=3.4, height=1.2, fontsize=8.5)
    _box(ax, 9.6, 5.2, "原子グラフ畳み込み\n更新済みの結合特徴で\n原子の特徴を更新", "#8e7cc3",
         width=3.4, height=1.5, fontsize=8.5)
    ax.add_patch(FancyBboxPatch((7.7, 0.75), 3.8, 5.5, boxstyle="round,pad=0.05",
                                fc="none", ec=purple, lw=1.5, ls="--"))
    ax.text(9.6, 6.55, "ALIGNN 層 × L（相互作用）", ha="center", fontsize=9.5, color=purple)
    _box(ax, 13.6, 3.5, "グローバル\nプーリング", purple, width=2.3, height=1.2)
    _box(ax, 16.5, 3.5, "予測層\n(MLP)", purple, width=1.9, height=1.2)
    _box(ax, 19.2, 3.5, "物性\n予測値", green, width=2.0, height=1.2)
    _arrow(ax, (2.7, 3.8), (3.4, 5.0))
    _arrow(ax, (2.7, 3.2), (3.4, 2.0))
    _arrow(ax, (6.6, 5.2), (7.9, 5.2))
    _arrow(ax, (6.6, 1.8), (7.9, 1.8))
    _arrow(ax, (9.6, 2.4), (9.6, 4.45), label="")
    ax.text(9.75, 3.45, "結合特徴", fontsize=8.5, ha="left", va="center", color="0.2")
    _arrow(ax, (11.3, 5.0), (12.45, 3.9))
    _arrow(ax, (14.75, 3.5), (15.55, 3.5))
    _arrow(ax, (17.45, 3.5), (18.2, 3.5))
    return fig


@_styled
def megnet_block() -> Figure:
    """One MEGNet block: bond, atom and state updates in that order, each with a residual."""
    fig, ax = _diagram(11.0, 4.8, (0, 17), (0, 7.2))
    rows = [  # (y, name, symbol, update rule, colour)
        (5.8, "結合", "$e_k$", r"$e_k' = \phi_e(v_{s_k} \oplus v_{r_k} \oplus e_k \oplus u)$", "#ff9800"),
        (3.6, "原子", "$v_i$", r"$v_i' = \phi_v(\bar{e}_i' \oplus v_i \oplus u)$", "#667eea"),
        (1.4, "状態", "$u$", r"$u' = \phi_u(\bar{e}' \oplus \bar{v}' \oplus u)$", "#4caf50"),
    ]
    for y, name, symbol, update, color in rows:
        _box(ax, 1.4, y, f"{name} {symbol}", color, width=2.2, height=0.9, fontsize=10)
        _box(ax, 7.6, y, update, "white", width=7.4, height=0.95, fontsize=10,
             text_color="black")
        _box(ax, 15.4, y, f"{name}（更新後）", color, width=2.6, height=0.9, fontsize=9.5)
        _arrow(ax, (2.5, y), (3.9, y))
        _arrow(ax, (11.3, y), (14.1, y))
        _arrow(ax, (1.4, y + 0.45), (15.4, y + 0.45), rad=-0.12, style="-|>", color="0.6")
    _arrow(ax, (7.6, 5.32), (7.6, 4.08), label="")
    ax.text(7.75, 4.7, "結合ごとに平均 $\\bar{e}_i'$", fontsize=8.5, va="center")
    _arrow(ax, (7.6, 3.12), (7.6, 1.88))
    ax.text(7.75, 2.5, r"全体の平均 $\bar{e}', \bar{v}'$", fontsize=8.5, va="center")
    ax.text(8.5, 6.95, "灰色の矢印：残差接続（入力 + 更新）", fontsize=8.5, ha="center",
            color="0.4")
    ax.text(8.5, 0.25, r"$\oplus$：連結、$\phi$：全結合ネットワーク", fontsize=9, ha="center")
    return fig


# --------------------------------------------------------------------------- graphs


def _element_colors(symbols: Sequence[str]) -> dict[str, str]:
    unique = list(dict.fromkeys(symbols))
    return {s: _MODEL_COLORS[i % len(_MODEL_COLORS)] for i, s in enumerate(unique)}


def _circle(n: int, radius: float = 1.0, phase: float = math.pi / 2) -> np.ndarray:
    angles = phase - 2 * math.pi * np.arange(n) / max(n, 1)
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


@_styled
def crystal_and_line_graph(graph, structure) -> Figure:
    """A crystal's atom graph and its line graph, side by side.

    Left: atoms of the unit cell; one line per bonded pair of sites, labelled with the number
    of periodic bonds it stands for (bonds to an atom's own images form a loop). Right: the
    line graph, one node per directed bond (grouped by the atom it points at), one edge per
    pair of bonds sharing an atom, coloured by the cosine of their angle.

    Args:
        graph: a crystal graph following the book's data contract (``z``, ``edge_index``,
            ``lg_edge_index``, optional ``angle_cos``), built with its line graph.
        structure: the pymatgen ``Structure`` the graph was built from (for element symbols).
    """
    edge_index = np.asarray(graph.edge_index, dtype=int)
    if getattr(graph, "lg_edge_index", None) is None:
        raise ValueError("graph has no line graph (lg_edge_index); build it with the line graph")
    lg_index = np.asarray(graph.lg_edge_index, dtype=int)
    n_atoms, n_bonds = len(structure), edge_index.shape[1]
    if int(graph.num_nodes) != n_atoms:
        raise ValueError(f"graph has {int(graph.num_nodes)} atoms, structure has {n_atoms}")
    if n_bonds == 0:
        raise ValueError("graph has no bonds")
    symbols = [site.specie.symbol for site in structure]
    colors = _element_colors(symbols)
    fig, axes = _new_figure(11.0, 5.4, 1, 2)
    ax_atoms, ax_lines = axes[0]
    for ax in axes[0]:
        ax.set_aspect("equal")
        ax.axis("off")

    pos = _circle(n_atoms) if n_atoms > 1 else np.zeros((1, 2))
    src, dst = edge_index
    pairs: dict[tuple[int, int], int] = {}
    for j, i in zip(src, dst):
        key = (min(i, j), max(i, j))
        pairs[key] = pairs.get(key, 0) + 1
    for (a, b), count in pairs.items():
        if a == b:  # bonds between periodic images of one atom: a loop outside the circle
            outward = pos[a] if n_atoms > 1 else np.array([0.0, 1.0])
            ax_atoms.add_patch(Circle(pos[a] + 0.22 * outward, 0.2, fill=False, ec="0.5", lw=1.2))
            ax_atoms.text(*(pos[a] + 0.55 * outward), f"×{count}", ha="center", va="center",
                          fontsize=8)
        else:
            ax_atoms.plot(*pos[[a, b]].T, color="0.5", lw=0.6 + 0.15 * count, zorder=1)
            mid = pos[[a, b]].mean(axis=0)
            ax_atoms.text(*mid, f"×{count}", fontsize=8, ha="center", va="center",
                          bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
    for k, (x, y) in enumerate(pos):
        ax_atoms.scatter(x, y, s=700, color=colors[symbols[k]], edgecolors="black", zorder=3)
        ax_atoms.text(x, y, f"{symbols[k]}\n{k}", ha="center", va="center", color="white",
                      fontsize=8.5, zorder=4)
    ax_atoms.set(xlim=(-1.8, 1.8), ylim=(-1.8, 1.8))
    ax_atoms.set_title(f"原子グラフ：{structure.composition.reduced_formula}\n"
                       f"原子 {n_atoms}、結合（有向）{n_bonds}（×k = 線が表す有向結合の数）")

    order = np.lexsort((src, dst))  # bonds grouped by the atom they point at
    bond_pos = np.empty((n_bonds, 2))
    bond_pos[order] = _circle(n_bonds)
    angle_cos = getattr(graph, "angle_cos", None)
    values = np.asarray(angle_cos, dtype=float) if angle_cos is not None else None
    alpha = float(np.clip(40.0 / max(lg_index.shape[1], 1), 0.05, 0.8))
    segments = np.stack([bond_pos[lg_index[0]], bond_pos[lg_index[1]]], axis=1)
    lines = LineCollection(segments, linewidths=0.6, alpha=alpha, cmap="viridis",
                           colors=None if values is not None else "0.4")
    if values is not None:
        lines.set_array(values)
        lines.set_clim(-1, 1)
    ax_lines.add_collection(lines)
    ax_lines.scatter(*bond_pos.T, s=60, c=[colors[symbols[i]] for i in dst],
                     edgecolors="black", linewidths=0.4, zorder=3)
    if values is not None:
        bar = fig.colorbar(lines, ax=ax_lines, shrink=0.7)
        bar.solids.set_alpha(1.0)
        bar.set_label("結合角の cos θ")
    ax_lines.set(xlim=(-1.15, 1.15), ylim=(-1.15, 1.15))
    ax_lines.set_title(f"線グラフ：ノード = 結合 {n_bonds}、エッジ = 結合角 {lg_index.shape[1]}\n"
                       "（ノードの色 = 結合が向かう原子の元素）")
    return fig
