"""The book's figures: Japanese labels that render, legible at page width, no label on another,
one colour per model family, values drawn as given."""
from __future__ import annotations

import base64
import io
import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from IPython.core.pylabtools import print_figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image
from pymatgen.core import Lattice, Structure
from torch_geometric.data import Data

from hybridlib.report import plots, style, tables

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _render(fig: Figure) -> list[str]:
    """Save to PNG in memory; return the warnings matplotlib raised while drawing."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return [str(w.message) for w in caught]


def _periodic_graph(structure: Structure, cutoff: float) -> Data:
    """A crystal graph with its line graph, following the book's data contract."""
    centre, neighbour, images, dist = structure.get_neighbor_list(cutoff)
    cart = structure.cart_coords
    vec = cart[neighbour] + images @ structure.lattice.matrix - cart[centre]
    edge_index = np.vstack([neighbour, centre])
    pairs = [(e1, e2) for e1 in range(len(centre)) for e2 in np.flatnonzero(neighbour == centre[e1])]
    lg = np.array(pairs).T
    cos = np.einsum("ij,ij->i", -vec[lg[0]], vec[lg[1]]) / (dist[lg[0]] * dist[lg[1]])
    return Data(z=torch.tensor(structure.atomic_numbers), num_nodes=len(structure),
                edge_index=torch.tensor(edge_index), edge_dist=torch.tensor(dist),
                lg_edge_index=torch.tensor(lg), angle_cos=torch.tensor(cos))


@pytest.fixture(scope="module")
def rock_salt() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return pd.DataFrame({
        "model": ["平均値", "RF (Magpie)", "CGCNN", "Early Fusion"],
        "mae": [0.89, 0.092, 0.079, 0.070],
        "train_time_s": [0.01, 20.0, 540.0, 600.0],
        "family": ["baseline", "composition", "graph", "hybrid"],
    })


@pytest.fixture(scope="module")
def every_model() -> pd.DataFrame:
    """All sixteen experiments of the book, with errors and times as crowded as 5.6's."""
    rng = np.random.default_rng(1)
    names = list(tables.MODELS)
    return pd.DataFrame({
        "model": [tables.MODELS[n][0] for n in names],
        "family": [tables.MODELS[n][1] for n in names],
        "mae": rng.uniform(0.13, 0.24, len(names)),
        "train_time_s": rng.uniform(2.0, 70.0, len(names)),
    })


def _all_figures(rock_salt, results, mp_small, every_model=None) -> dict[str, Figure]:
    rng = np.random.default_rng(0)
    y = mp_small["e_form"].to_numpy()
    crowd = every_model if every_model is not None else results
    four = {label: y + rng.normal(0, 0.1, y.size) for label in crowd["model"][:4]}
    return {
        "parity": plots.parity(y, {"RF": y + rng.normal(0, 0.1, y.size)}, "eV/atom"),
        "parity_four": plots.parity(y, four, "eV/atom", target="生成エネルギー"),
        "bar_mae": plots.bar_mae(crowd, baseline=crowd["model"][2]),
        "mae_vs_time": plots.mae_vs_time(crowd),
        "learning_curve": plots.learning_curve([100, 200, 300], {"rf_magpie": [0.3, 0.2, 0.15],
                                                                 "cgcnn": [0.4, 0.25, 0.14]}),
        "target_distributions": plots.target_distributions(mp_small),
        "alpha_curve": plots.alpha_curve(np.linspace(0, 1, 11), np.linspace(0.2, 0.1, 11),
                                         np.linspace(0.21, 0.12, 11), 0.8, 0.4),
        "source_weights": plots.source_weights(pd.DataFrame({
            "w_structure": rng.uniform(0, 1, 200), "class": rng.choice(["金属", "非金属"], 200)})),
        "task_weight_trajectory": plots.task_weight_trajectory(
            np.exp(-rng.normal(0, 0.1, (50, 2)).cumsum(axis=0)), ["e_form", "band_gap"]),
        "fusion_taxonomy": plots.fusion_taxonomy(),
        "alignn_architecture": plots.alignn_architecture(),
        "megnet_block": plots.megnet_block(),
        "crystal_and_line_graph": plots.crystal_and_line_graph(
            _periodic_graph(rock_salt, 3.0), rock_salt),
    }


@pytest.fixture(scope="module")
def figures(rock_salt, results, mp_small, every_model) -> dict[str, Figure]:
    return _all_figures(rock_salt, results, mp_small, every_model)


def _drawn_texts(fig: Figure) -> list[matplotlib.text.Text]:
    """Every non-empty text the figure draws (after drawing it once)."""
    FigureCanvasAgg(fig).draw()
    texts = list(fig.texts) + [t for legend in fig.legends for t in legend.get_texts()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [*ax.texts, ax.title]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                texts += [axis.label, axis.get_offset_text(), *axis.get_ticklabels()]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _png_width(fig: Figure) -> int:
    """Width in pixels of the PNG the book shows (IPython's formatter, as under ``glue``)."""
    return Image.open(io.BytesIO(print_figure(fig, "png", bbox_inches="tight"))).size[0]


def test_every_figure_fits_the_page_and_no_text_is_below_the_minimum(figures):
    for name, fig in figures.items():
        assert _png_width(fig) <= style.PAGE_WIDTH_PX, name
        small = {t.get_text(): t.get_fontsize() for t in _drawn_texts(fig)
                 if t.get_fontsize() < plots.MIN_FONT_PT}
        assert small == {}, name


def test_the_legibility_check_catches_a_tiny_or_too_wide_figure():
    fig = Figure(figsize=(9, 3))
    fig.subplots().axis("off")
    fig.text(0.5, 0.5, "小さい", fontsize=6)
    assert _png_width(fig) > style.PAGE_WIDTH_PX
    assert [t.get_fontsize() for t in _drawn_texts(fig)] == [6]
    with pytest.raises(ValueError, match="shrunk on the page"):
        style.new_figure(plots.PAGE_WIDTH_IN + 1, 3)


def _overlaps(fig: Figure) -> list[tuple[str, str]]:
    texts = _drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    return [(texts[i].get_text(), texts[j].get_text())
            for i in range(len(texts)) for j in range(i + 1, len(texts))
            if boxes[i].overlaps(boxes[j])]


def test_no_label_lies_on_another(figures):
    for name, fig in figures.items():
        assert _overlaps(fig) == [], name
    crowded = Figure()
    crowded.text(0.5, 0.5, "CGCNN")
    crowded.text(0.51, 0.5, "ALIGNN")
    assert _overlaps(crowded) == [("CGCNN", "ALIGNN")]


def test_every_figure_has_japanese_labels_and_renders_without_missing_glyphs(figures):
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        assert any(JAPANESE.search(t) for t in _texts(fig)), f"{name}: no Japanese text"
        problems = [m for m in _render(fig) if "Glyph" in m or "missing from" in m]
        assert problems == [], f"{name}: {problems}"


def test_glyph_check_catches_a_font_without_japanese():
    fig = Figure()
    fig.text(0.5, 0.5, "生成エネルギー", family="DejaVu Sans")
    assert any("Glyph" in m for m in _render(fig))


def test_helpers_draw_in_book_style_without_changing_global_rcparams():
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig = plots.fusion_taxonomy()
        assert matplotlib.rcParams["font.family"] == ["DejaVu Sans"]
    families = {tuple(t.get_fontfamily()) for t in fig.findobj(matplotlib.text.Text)}
    assert families == {(plots.FONT_FAMILY,)}


def test_use_book_style_sets_the_japanese_font():
    with matplotlib.rc_context():
        plots.use_book_style()
        assert matplotlib.rcParams["font.family"] == [plots.FONT_FAMILY]


def test_use_book_style_makes_ipython_show_figures_as_png_under_agg():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        with matplotlib.rc_context():
            plots.use_book_style()
        formatted, _ = shell.display_formatter.format(plots.megnet_block())
        assert base64.b64decode(formatted["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        InteractiveShell.clear_instance()


def test_parity_writes_each_models_mae_and_rejects_mismatched_predictions():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    fig = plots.parity(y, {"A": y + 0.5, "B": y - [0.1, 0.2, 0.3, 0.4]}, "eV")
    texts = _texts(fig)
    assert "MAE = 0.500\nn = 4" in texts and "MAE = 0.250\nn = 4" in texts
    assert [ax.get_title() for ax in fig.axes] == ["A", "B"]
    with pytest.raises(ValueError, match="'A' have 3 values"):
        plots.parity(y, {"A": y[:3]}, "eV")
    with pytest.raises(ValueError, match="NaN"):
        plots.parity([0.0, np.nan], {"A": [0.0, 1.0]}, "eV")


def test_bar_mae_sorts_best_first_and_draws_the_values(results):
    fig = plots.bar_mae(results)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Early Fusion", "CGCNN", "RF (Magpie)", "平均値"]
    widths = sorted(p.get_width() for p in ax.patches)
    assert np.allclose(widths, sorted(results["mae"]))
    assert plots.bar_mae({"x": 0.2, "y": 0.1}).axes[0].get_yticklabels()[0].get_text() == "y"


def test_bar_mae_rejects_bad_tables(results):
    with pytest.raises(ValueError, match="lacks columns"):
        plots.bar_mae(results.drop(columns="mae"))
    with pytest.raises(ValueError, match="unknown model family 'quantum'"):
        plots.bar_mae(results.assign(family="quantum"))
    with pytest.raises(ValueError, match="baseline 'SVM'"):
        plots.bar_mae(results, baseline="SVM")


def test_mae_vs_time_uses_a_log_time_axis_and_needs_positive_times(results):
    ax = plots.mae_vs_time(results).axes[0]
    assert ax.get_xscale() == "log"
    assert np.allclose(ax.collections[0].get_offsets()[:, 0], results["train_time_s"])
    with pytest.raises(ValueError, match="positive"):
        plots.mae_vs_time(results.assign(train_time_s=0.0))


def test_learning_curve_plots_the_given_points():
    ax = plots.learning_curve([100, 1000], {"RF": [0.3, 0.1], "CGCNN": [0.5, 0.08]}).axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["RF", "CGCNN"]
    assert np.allclose(ax.get_lines()[1].get_ydata(), [0.5, 0.08])
    with pytest.raises(ValueError, match="2 MAEs for 3 sizes"):
        plots.learning_curve([1, 2, 3], {"RF": [0.3, 0.1]})


def test_learning_curve_ticks_are_the_measured_sizes_in_plain_numbers():
    sizes = [250, 500, 1000, 2000, 5548]
    ax = plots.learning_curve(sizes, {"RF": [0.2, 0.18, 0.16, 0.14, 0.1]}).axes[0]
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "250", "500", "1,000", "2,000", "5,548"]
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))


def test_target_distributions_reports_the_share_of_zero_gaps(mp_small):
    fig = plots.target_distributions(mp_small)
    share = f"{np.mean(mp_small['band_gap'] == 0):.1%}"
    assert any(share in t for t in _texts(fig))
    with pytest.raises(ValueError, match="band_gap"):
        plots.target_distributions(mp_small.drop(columns="band_gap"))


def test_alpha_curve_marks_the_chosen_weights():
    fig = plots.alpha_curve([0, 0.5, 1], [0.3, 0.2, 0.25], [0.31, 0.22, 0.26], 0.5, 0.0)
    vertical = [line.get_xdata()[0] for line in fig.axes[0].get_lines()[2:]]
    assert vertical == [0.5, 0.0]
    with pytest.raises(ValueError, match="differ in length"):
        plots.alpha_curve([0, 1], [0.3], [0.3, 0.2], 0.5)


def test_crystal_and_line_graph_draws_every_bond_and_bond_angle(rock_salt):
    graph = _periodic_graph(rock_salt, 3.0)  # rock salt: 6 nearest neighbours per atom
    n_bonds, n_angles = graph.edge_index.shape[1], graph.lg_edge_index.shape[1]
    assert (n_bonds, n_angles) == (12, 72)
    fig = plots.crystal_and_line_graph(graph, rock_salt)
    segments = [c for c in fig.axes[1].collections if isinstance(c, LineCollection)]
    assert len(segments[0].get_segments()) == n_angles
    assert np.allclose(segments[0].get_array(), graph.angle_cos.numpy())
    assert "×12" in _texts(fig)  # 6 Na-Cl bonds each way: one line labelled with 12 directed bonds
    assert any(f"結合（有向）{n_bonds}" in t for t in _texts(fig))


def test_crystal_and_line_graph_needs_the_line_graph(rock_salt):
    graph = _periodic_graph(rock_salt, 3.0)
    del graph.lg_edge_index
    with pytest.raises(ValueError, match="no line graph"):
        plots.crystal_and_line_graph(graph, rock_salt)


# --------------------------------------------------------------------------- colours and content

FAMILY_HEX = {family: color for family, (_, color) in plots.FAMILY_COLORS.items()}


def _hex(color) -> str:
    return to_hex(color, keep_alpha=False)


def test_a_model_family_has_one_colour_in_every_model_figure(every_model, mp_small):
    expected = [FAMILY_HEX[f] for f in every_model.sort_values("mae", kind="stable")["family"]]
    bars = plots.bar_mae(every_model).axes[0].patches
    assert [_hex(b.get_facecolor()) for b in bars] == expected
    points = plots.mae_vs_time(every_model).axes[0].collections[0].get_facecolors()
    assert [_hex(c) for c in points] == [FAMILY_HEX[f] for f in every_model["family"]]
    y = mp_small["e_form"].to_numpy()
    parity = plots.parity(y, {"RF (Magpie 132)": y, "CGCNN": y, "megnet_mt_equal": y}, "eV/atom")
    assert [_hex(ax.collections[0].get_facecolor()[0]) for ax in parity.axes[:3]] == [
        FAMILY_HEX["composition"], FAMILY_HEX["graph"], FAMILY_HEX["multitask"]]
    curve = plots.learning_curve([10, 20], {"rf_magpie": [0.2, 0.1], "alignn": [0.3, 0.1]}).axes[0]
    assert [_hex(line.get_color()) for line in curve.get_lines()] == [
        FAMILY_HEX["composition"], FAMILY_HEX["graph"]]
    assert [t.get_text() for t in curve.get_legend().get_texts()] == ["RF (Magpie 132)", "ALIGNN"]


def _colors_used(fig: Figure) -> set[str]:
    colors = set()
    for artist in fig.findobj():
        for getter in ("get_color", "get_facecolor", "get_edgecolor"):
            value = getattr(artist, getter, lambda: None)()
            if value is None or isinstance(value, str) and value == "none":
                continue
            array = np.atleast_2d(matplotlib.colors.to_rgba_array(value))
            colors |= {_hex(c) for c in array if c[3] > 0}
    return colors


@pytest.mark.parametrize("name", ["target_distributions", "alpha_curve", "source_weights",
                                  "task_weight_trajectory", "crystal_and_line_graph"])
def test_figures_without_models_use_no_family_colour(figures, name):
    assert _colors_used(figures[name]) & set(FAMILY_HEX.values()) == set()


def test_the_colour_check_sees_a_family_colour():
    fig = Figure()
    fig.subplots().plot([0, 1], color=FAMILY_HEX["graph"])
    assert FAMILY_HEX["graph"] in _colors_used(fig)


def test_mae_vs_time_names_only_the_pareto_front(every_model):
    ax = plots.mae_vs_time(every_model).axes[0]
    named = sorted(t.get_text() for t in ax.texts)
    front = every_model[tables.pareto_front(every_model)]
    assert named == sorted(front["model"]) and 0 < len(named) < len(every_model)


def _labels_on_markers(fig: Figure) -> list[str]:
    """Labels of the first axes whose box covers a marker or an earlier label, or leaves
    the axes."""
    ax = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    dots = ax.collections[0]
    centres = ax.transData.transform(dots.get_offsets())
    half = np.sqrt(dots.get_sizes()[0]) / 2 * fig.dpi / 72
    frame = ax.get_window_extent(renderer)
    bad, boxes = [], [text.get_bbox_patch().get_window_extent(renderer) for text in ax.texts]
    for i, (text, box) in enumerate(zip(ax.texts, boxes)):
        if any(box.overlaps(other) for other in boxes[:i]):
            bad.append(text.get_text())
        covered = ((centres[:, 0] + half > box.x0) & (centres[:, 0] - half < box.x1)
                   & (centres[:, 1] + half > box.y0) & (centres[:, 1] - half < box.y1))
        if covered.any() or not (frame.x0 <= box.x0 and box.x1 <= frame.x1
                                 and frame.y0 <= box.y0 and box.y1 <= frame.y1):
            bad.append(text.get_text())
    return bad


def test_mae_vs_time_labels_cover_no_dot_and_stay_in_the_axes(every_model):
    # Named models with unnamed (slower and worse) dots just above and to the right of them,
    # where a label drawn up and to the right would sit on the dots (as in 5.6).
    crowd = pd.DataFrame({
        "model": ["RF (Magpie)", "CGCNN", "ALIGNN", "a", "b", "c", "d"],
        "family": ["composition", "graph", "graph", "hybrid", "hybrid", "hybrid", "multitask"],
        "mae": [0.100, 0.070, 0.060, 0.1015, 0.1008, 0.0712, 0.0722],
        "train_time_s": [30.0, 100.0, 1100.0, 33.0, 36.0, 110.0, 118.0]})
    for table in (crowd, every_model):
        fig = plots.mae_vs_time(table)
        assert _labels_on_markers(fig) == []


def test_megnet_block_averages_bonds_per_atom_and_the_alignn_head_is_linear():
    megnet = " ".join(_texts(plots.megnet_block()))
    assert r"原子 $i$ に向かう結合の平均 $\bar{e}_i'$（原子ごと）" in megnet
    assert "結合ごとに平均" not in megnet
    alignn = " ".join(_texts(plots.alignn_architecture()))
    assert "線形層" in alignn and "MLP" not in alignn
    assert "平均プーリング" in alignn and "gcn_layers、原子グラフのみ" in alignn
    assert "alignn_layers" in alignn
