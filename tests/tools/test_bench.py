"""Benchmark functions return well-formed comparisons on tiny real inputs (no timing asserts)."""
from __future__ import annotations

import pytest

from tools import bench


@pytest.fixture(scope="module")
def tiny(mp_small):
    return mp_small.iloc[:8]


def _check_comparison(row: dict) -> None:
    assert {"name", "time", "reference_time", "ratio", "max_difference"} <= row.keys()
    assert row["time"] > 0 and row["reference_time"] > 0


def test_comparisons_report_a_wrong_implementation(tiny, monkeypatch):
    """The comparisons exist to catch differences: fed a broken implementation, they say so."""
    import hybridlib.features.composition as composition
    import hybridlib.graphs as graphs

    real_features, real_edges = composition.composition_features, graphs.neighbor_edges

    def shifted(*args, **kwargs):
        return real_features(*args, **kwargs) * 1.01

    def one_edge_short(*args, **kwargs):
        edges = real_edges(*args, **kwargs)
        return type(edges)(*(a[1:] for a in (edges.src, edges.dst, edges.image, edges.vec,
                                             edges.dist)), edges.cutoff)

    monkeypatch.setattr(composition, "composition_features", shifted)
    row = bench.compare_composition([s.composition for s in tiny["structure"]], "magpie")
    assert row["max_difference"] == pytest.approx(0.01 / 1.01, rel=1e-6)
    monkeypatch.setattr(graphs, "neighbor_edges", one_edge_short)
    structures = sorted(tiny["structure"], key=len)[:2]
    assert bench.compare_neighbors(structures)["edge_set_mismatch"] == 2


@pytest.mark.parametrize("preset", ["magpie", "ward2016"])
def test_compare_composition(tiny, preset):
    row = bench.compare_composition([s.composition for s in tiny["structure"]], preset)
    _check_comparison(row)
    assert row["max_difference"] <= 1e-9 and row["nan_mismatch"] == 0
    assert preset in row["name"] and "8 materials" in row["name"]


def test_compare_neighbors_and_line_graph(tiny):
    structures = sorted(tiny["structure"], key=len)[:3]
    neighbours = bench.compare_neighbors(structures)
    _check_comparison(neighbours)
    assert neighbours["edge_set_mismatch"] == 0 and neighbours["max_difference"] < 1e-9
    angles = bench.compare_line_graph(structures[:2])
    _check_comparison(angles)
    assert angles["pair_set_mismatch"] == 0 and angles["max_difference"] < 1e-9


def test_graph_memory_reports_sizes(tiny):
    plain = bench.graph_memory(tiny, line_graph=False)
    with_angles = bench.graph_memory(tiny, line_graph=True)
    assert plain["n_edges"] == with_angles["n_edges"] >= 12 * tiny["n_sites"].sum()
    assert plain["n_pairs"] == 0 < with_angles["n_pairs"]
    assert 0 < plain["tensor_mib"] < with_angles["tensor_mib"]


def test_relative_difference_and_registry():
    import numpy as np

    a, b = np.array([1.0, 2.0, np.nan, 0.0]), np.array([1.0, 2.2, np.nan, 0.0])
    assert bench._max_relative_difference(a, b) == pytest.approx(0.2 / 2.2)
    assert bench._max_relative_difference(a, a) == 0.0
    with pytest.raises(SystemExit):
        bench.main(["no-such-benchmark"])


def test_the_command_line_runs_the_named_benchmark(monkeypatch):
    calls = []
    monkeypatch.setitem(bench.BENCHMARKS, "features", lambda n: calls.append(("features", n)))
    monkeypatch.setitem(bench.BENCHMARKS, "train", lambda n: calls.append(("train", n)))
    bench.main(["features", "--n", "8"])
    bench.main(["train"])
    assert calls == [("features", 8), ("train", None)]


def test_the_reference_loop_trains_the_model_it_times():
    """The bare loop the trainer is compared with really optimises (else the ratio means
    nothing): 40 epochs of it (320 Adam steps of 1e-3) fit a small linear target."""
    from types import SimpleNamespace

    import torch

    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[0.2], [-0.1], [0.1]])

    class Linear(torch.nn.Linear):
        def forward(self, batch):
            return super().forward(batch.x)

    model = Linear(3, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    batches = [SimpleNamespace(x=x[i:i + 8], y=y[i:i + 8]) for i in range(0, 64, 8)]
    error = lambda: float((model(SimpleNamespace(x=x)) - y).abs().mean())  # noqa: E731
    before = error()
    seconds = [bench._bare_epoch(model, batches) for _ in range(40)]
    assert error() < 0.25 * before and min(seconds) > 0


@pytest.mark.slow
def test_train_benchmark_reports_throughput_and_memory(capsys):
    from tools import bench

    rows = bench.train(n_materials=40, epochs=1, profile="ci", models=("alignn",))
    (row,) = rows
    assert row["name"].startswith("alignn epoch, 36 train + 4 val graphs")
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("ratio alignn epoch")


def test_layer_comparisons_agree_with_their_references(tiny):
    """Each faster layer returns its reference's numbers (float32) on a real batch."""
    from torch_geometric.loader import DataLoader

    import hybridlib as hl

    graphs = hl.graphs.build_graphs(list(tiny["structure"]), line_graph=True)
    batch = next(iter(DataLoader(graphs, batch_size=len(graphs))))
    for row in (bench.compare_cgconv(batch, channels=16), bench.compare_megnet_edge_update(batch),
                bench.compare_distinct_embedding(batch, hidden=16)):
        _check_comparison(row)
        assert row["max_difference"] < 1e-4, row["name"]
    assert "layers" in bench.BENCHMARKS
