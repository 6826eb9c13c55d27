"""hybridlib.glue outside a book build, bond-angle tables, new figures."""
from __future__ import annotations

import builtins
import io
import warnings

import numpy as np
import pandas as pd
import pytest

import hybridlib as hl


def test_glue_without_myst_nb_returns_the_value(monkeypatch):
    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name == "myst_nb":
            raise ImportError("not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_myst)
    assert hl.glue("x", 3.5) == 3.5


def test_bond_angle_table_of_wurtzite_zns(mp_sample):
    structure = mp_sample.set_index("material_id").loc["mp-560588", "structure"]
    graph = hl.graphs.crystal_graph(structure, line_graph=True)
    table = hl.graphs.bond_angle_table(graph, structure)
    assert len(table) == graph.lg_edge_index.shape[1]
    first = table[(table["d_ij"] < 2.5) & (table["d_ik"] < 2.5) & (table["angle_deg"] > 1)]
    assert len(first) == 48  # 4 atoms x 4 first neighbours x 3 others
    assert np.allclose(first["cos"], -1 / 3, atol=0.02)
    assert set(first["i"].str[:2]) <= {"Zn", "S0", "S1", "S2", "S3"}
    with pytest.raises(ValueError, match="line_graph=True"):
        hl.graphs.bond_angle_table(hl.graphs.crystal_graph(structure), structure)


def _render(fig):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png")


def test_source_weights_figure_and_errors():
    table = pd.DataFrame({"w_structure": [0.2, 0.4, 0.9], "class": ["金属", "金属", "非金属"]})
    fig = hl.plots.source_weights(table)
    _render(fig)
    assert "構造" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="outside"):
        hl.plots.source_weights(table.assign(w_structure=[0.2, 1.5, 0.1]))


def test_task_weight_trajectory_figure_and_errors():
    fig = hl.plots.task_weight_trajectory([[1.0, 1.0], [1.5, 0.5]], ["生成エネルギー", "ギャップ"])
    _render(fig)
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="trajectory"):
        hl.plots.task_weight_trajectory([[1.0, 1.0]], ["only one"])
