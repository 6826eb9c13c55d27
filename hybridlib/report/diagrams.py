"""Architecture diagrams and the crystal/line-graph picture, drawn at page width.

Diagrams are laid out on a canvas 7.2 units wide (``aspect="equal"``) drawn at page width,
so one unit is about an inch and a box's size says how much text it holds. Model families
keep their colours (:data:`~.style.FAMILY_COLORS`): the fusion strategies are hybrids,
ALIGNN's and MEGNet's layers are graph networks; parts that are not models are grey or take
:data:`~.style.OTHER_COLORS`. ``hl.plots`` re-exports every helper. Introduced in: chapter 5.1.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .style import MIN_FONT_PT, OTHER_COLORS, PAGE_WIDTH_IN, family_color, new_figure, styled

__all__ = ["fusion_taxonomy", "alignn_architecture", "megnet_block", "crystal_and_line_graph"]

LABEL_PT = 10.0  # text inside boxes
NOTE_PT = MIN_FONT_PT  # arrow labels, footnotes
GREY = "#555555"
CANVAS_WIDTH = 7.2


def _box(ax, x: float, y: float, text: str, color: str, *, width: float, height: float,
         fontsize: float = LABEL_PT, text_color: str = "white") -> None:
    """A rounded, filled box centred at (x, y) (inches)."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.08",
                                fc=color, ec="0.25", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=text_color,
            linespacing=1.35)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], *, rad: float = 0.0,
           color: str = "0.25", style: str = "-|>") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, lw=1.2,
                                 color=color, connectionstyle=f"arc3,rad={rad}",
                                 shrinkA=0, shrinkB=0))


def _diagram(height: float):
    """A blank canvas ``CANVAS_WIDTH`` x ``height`` units, drawn at page width."""
    scale = PAGE_WIDTH_IN / CANVAS_WIDTH
    fig, axes = new_figure(PAGE_WIDTH_IN, height * scale)
    fig.get_layout_engine().set(w_pad=0, h_pad=0, wspace=0, hspace=0)
    ax = axes[0, 0]
    ax.set(xlim=(0, CANVAS_WIDTH), ylim=(0, height), aspect="equal")
    ax.axis("off")
    return fig, ax


@styled
def fusion_taxonomy() -> Figure:
    """The three ways to combine composition and structure (the seed's strategy tree)."""
    fig, ax = _diagram(4.3)
    hybrid = family_color("hybrid")
    _box(ax, 3.6, 3.95, "ハイブリッド統合戦略", GREY, width=2.4, height=0.45, fontsize=11)
    branches = [
        (1.2, "Early Fusion\n特徴量レベルで統合", ["単純連結\nMagpie + GNN 埋め込み",
                                                  "重み付き結合\nAttention 機構"]),
        (3.6, "Late Fusion\n予測レベルで統合", ["単純平均\nRF 予測 + CGCNN 予測",
                                               "スタッキング\nメタモデルを学習"]),
        (6.0, "Intermediate Fusion\n中間層で統合", ["ALIGNN\n線グラフ + 原子グラフ",
                                                    "MEGNet\n多スケールの集約"]),
    ]
    for x, title, leaves in branches:
        _box(ax, x, 2.95, title, hybrid, width=2.2, height=0.62)
        _arrow(ax, (3.6, 3.72), (x, 3.27))
        for k, leaf in enumerate(leaves):
            y = 1.95 - 0.78 * k
            _box(ax, x, y, leaf, "white", width=2.1, height=0.62, text_color="black")
        _arrow(ax, (x, 2.64), (x, 2.27))
    ax.text(3.6, 0.3, r"Early: $h = [h_{comp}\,;\,h_{GNN}]$　　"
            r"Late: $\hat{y} = \alpha\,\hat{y}_{RF} + (1-\alpha)\,\hat{y}_{CGCNN}$",
            ha="center", va="center", fontsize=LABEL_PT)
    return fig


@styled
def alignn_architecture() -> Figure:
    """ALIGNN as :class:`hybridlib.models.ALIGNN` computes it.

    Top row: the crystal becomes an atom graph and its line graph; ``alignn_layers`` ALIGNN
    layers each update the line graph (bonds, bond angles), then the atom graph with those
    bonds. Bottom row, right to left: ``gcn_layers`` edge-gated layers on the atom graph
    alone, mean pooling over atoms, one linear layer.
    """
    fig, ax = _diagram(4.6)
    graph = family_color("graph")
    light = "#aab6f3"
    _box(ax, 0.62, 3.35, "結晶構造", GREY, width=1.05, height=0.5)
    _box(ax, 2.15, 4.0, "原子グラフ\nノード = 原子\nエッジ = 結合", light, width=1.6,
         height=0.9, text_color="black", fontsize=NOTE_PT)
    _box(ax, 2.15, 2.7, "線グラフ\nノード = 結合\nエッジ = 結合角", light, width=1.6,
         height=0.9, text_color="black", fontsize=NOTE_PT)
    _arrow(ax, (1.15, 3.5), (1.35, 3.85))
    _arrow(ax, (1.15, 3.2), (1.35, 2.85))
    # ALIGNN layers
    ax.add_patch(FancyBboxPatch((3.2, 2.1), 3.85, 2.35, boxstyle="round,pad=0.02",
                                fc="none", ec=graph, lw=1.5, ls="--"))
    ax.text(5.12, 4.3, r"ALIGNN 層 × $L_a$（alignn_layers）", ha="center", va="center",
            fontsize=NOTE_PT, color="0.15")
    _box(ax, 5.12, 2.7, "① 線グラフ畳み込み\n結合と結合角の特徴を更新", graph,
         width=3.5, height=0.7)
    _box(ax, 5.12, 3.7, "② 原子グラフ畳み込み\n更新した結合の特徴で原子を更新", graph,
         width=3.5, height=0.7)
    _arrow(ax, (2.95, 4.0), (3.37, 3.7))
    _arrow(ax, (2.95, 2.7), (3.37, 2.7))
    _arrow(ax, (5.12, 3.05), (5.12, 3.35))
    # atom graph only, pooling, linear head (right to left)
    _box(ax, 5.3, 1.1, "エッジゲート畳み込み × $L_g$\n（gcn_layers、原子グラフのみ）", graph,
         width=3.1, height=0.7)
    _box(ax, 2.85, 1.1, "平均プーリング\n（原子の平均）", GREY, width=1.3, height=0.7)
    _box(ax, 1.55, 1.1, "線形層", GREY, width=0.85, height=0.5)
    _box(ax, 0.55, 1.1, "予測値", "white", width=0.8, height=0.5, text_color="black")
    _arrow(ax, (6.85, 2.1), (6.6, 1.45))
    _arrow(ax, (3.75, 1.1), (3.5, 1.1))
    _arrow(ax, (2.2, 1.1), (1.98, 1.1))
    _arrow(ax, (1.12, 1.1), (0.95, 1.1))
    ax.text(3.6, 0.3, r"$L_a = 0$ なら線グラフを使わない CGCNN 型のモデルになる",
            ha="center", va="center", fontsize=NOTE_PT, color="0.3")
    return fig


@styled
def megnet_block() -> Figure:
    """One MEGNet block: bond, atom and state updates in that order, each with a residual.

    The atom update reads the mean of the updated bonds that point at the atom
    (:math:`\\bar e_i'`, one per atom); the state update reads the crystal-wide means of the
    updated bonds and atoms.
    """
    fig, ax = _diagram(4.5)
    bond, atom, state = OTHER_COLORS[1], OTHER_COLORS[0], OTHER_COLORS[2]
    rows = [  # (y, name, symbol, update rule, colour)
        (3.5, "結合", "$e_k$", r"$e_k' = \phi_e(v_{s_k} \oplus v_{r_k} \oplus e_k \oplus u)$", bond),
        (2.2, "原子", "$v_i$", r"$v_i' = \phi_v(\bar{e}_i' \oplus v_i \oplus u)$", atom),
        (0.9, "状態", "$u$", r"$u' = \phi_u(\bar{e}' \oplus \bar{v}' \oplus u)$", state),
    ]
    for y, name, symbol, update, color in rows:
        _box(ax, 0.6, y, f"{name}\n{symbol}", color, width=0.95, height=0.7)
        _box(ax, 3.45, y, update, "white", width=3.9, height=0.6, fontsize=11,
             text_color="black")
        _box(ax, 6.55, y, f"{name}\n{symbol.rstrip('$')}'$", color, width=0.95, height=0.7)
        _arrow(ax, (1.08, y), (1.5, y))
        _arrow(ax, (5.4, y), (6.07, y))
        _arrow(ax, (0.6, y + 0.35), (6.55, y + 0.35), rad=-0.05, color="0.6")
    _arrow(ax, (2.3, 3.2), (2.3, 2.5))
    ax.text(2.42, 2.97, r"原子 $i$ に向かう結合の平均 $\bar{e}_i'$（原子ごと）",
            fontsize=NOTE_PT, va="center")
    _arrow(ax, (2.3, 1.9), (2.3, 1.2))
    ax.text(2.42, 1.67, r"結晶全体の平均 $\bar{e}'$、$\bar{v}'$", fontsize=NOTE_PT,
            va="center")
    ax.text(3.6, 0.22, r"$\oplus$：連結、$\phi$：全結合ネットワーク、"
            "灰色の矢印：残差接続（出力 = 入力 + 更新）", fontsize=NOTE_PT, ha="center",
            va="center", color="0.3")
    return fig


# --------------------------------------------------------------------------- graphs


def _element_colors(symbols: Sequence[str]) -> dict[str, str]:
    unique = list(dict.fromkeys(symbols))
    return {s: OTHER_COLORS[i % len(OTHER_COLORS)] for i, s in enumerate(unique)}


def _circle(n: int, radius: float = 1.0, phase: float = math.pi / 2) -> np.ndarray:
    angles = phase - 2 * math.pi * np.arange(n) / max(n, 1)
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


@styled
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
    fig, axes = new_figure(PAGE_WIDTH_IN, 4.3, 1, 2)
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
            ax_atoms.text(*(pos[a] + 0.6 * outward), f"×{count}", ha="center", va="center",
                          fontsize=NOTE_PT)
        else:
            ax_atoms.plot(*pos[[a, b]].T, color="0.5", lw=0.6 + 0.15 * count, zorder=1)
            mid = pos[[a, b]].mean(axis=0)
            ax_atoms.text(*mid, f"×{count}", fontsize=NOTE_PT, ha="center", va="center",
                          bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
    for k, (x, y) in enumerate(pos):
        ax_atoms.scatter(x, y, s=650, color=colors[symbols[k]], edgecolors="black", zorder=3)
        ax_atoms.text(x, y, f"{symbols[k]}\n{k}", ha="center", va="center", color="white",
                      fontsize=NOTE_PT, zorder=4, linespacing=1.1)
    ax_atoms.set(xlim=(-1.8, 1.8), ylim=(-1.8, 1.8))
    ax_atoms.set_title(f"原子グラフ：{structure.composition.reduced_formula}\n"
                       f"原子 {n_atoms}、結合（有向）{n_bonds}\n×k：線が表す有向結合の数",
                       fontsize=LABEL_PT)

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
    ax_lines.scatter(*bond_pos.T, s=40, c=[colors[symbols[i]] for i in dst],
                     edgecolors="black", linewidths=0.4, zorder=3)
    if values is not None:
        bar = fig.colorbar(lines, ax=ax_lines, shrink=0.6)
        bar.solids.set_alpha(1.0)
        bar.set_label("結合角の cos θ")
    ax_lines.set(xlim=(-1.15, 1.15), ylim=(-1.15, 1.15))
    ax_lines.set_title(f"線グラフ：ノード = 結合 {n_bonds}\nエッジ = 結合角 {lg_index.shape[1]}\n"
                       "ノードの色 = 結合が向かう原子", fontsize=LABEL_PT)
    return fig
