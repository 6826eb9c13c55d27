"""Benchmarks that time an implementation against its reference in the same run.

Run one by name: ``python -m tools.bench features`` (``--help`` lists them). Each
benchmark prints a table (implementation time, reference time, ratio, max difference) and
ends with one ``ratio`` line per comparison. Speed goals live here, never in tests.
Our implementations take the best of ``_REPEAT`` runs (they are short, so a busy machine
would otherwise dominate them); each slow reference runs once.
Introduced in: chapter 5.1.
"""
from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

_REPEAT = 3

__all__ = ["BENCHMARKS", "compare_composition", "compare_neighbors", "compare_line_graph",
           "graph_memory", "features", "compare_cgconv", "compare_megnet_edge_update",
           "compare_distinct_embedding", "layers", "train", "main"]


def _timed(function: Callable, *args, repeat: int = 1, **kwargs) -> tuple[object, float]:
    """Result and the best wall time (s) of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def _max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a|, |b|) over entries that differ (0 when all are equal)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = ~(np.isnan(a) | np.isnan(b))
    diff = np.abs(a[both] - b[both])
    scale = np.maximum(np.abs(a[both]), np.abs(b[both]))
    differ = diff > 0
    return float((diff[differ] / scale[differ]).max(initial=0.0))


def _matminer_featurizer(preset: str):
    from matminer.featurizers.base import MultipleFeaturizer
    from matminer.featurizers.composition import (ElementProperty, IonProperty, Stoichiometry,
                                                  ValenceOrbital)

    magpie = ElementProperty.from_preset("magpie")
    featurizer = magpie if preset == "magpie" else MultipleFeaturizer(
        [Stoichiometry(), magpie, ValenceOrbital(props=["frac"]), IonProperty(fast=True)])
    featurizer.set_n_jobs(1)  # matminer's default 2 processes are slower here
    return featurizer


def compare_composition(compositions: Sequence, preset: str = "magpie") -> dict:
    """Time :func:`composition_features` and matminer on the same pymatgen Compositions."""
    from hybridlib.features.composition import composition_features

    compositions = list(compositions)
    composition_features(compositions[:2], preset)  # load element tables outside the timing
    featurizer = _matminer_featurizer(preset)
    ours, t_ours = _timed(composition_features, compositions, preset, repeat=_REPEAT)
    reference, t_ref = _timed(featurizer.featurize_many, compositions, pbar=False)
    ours, reference = ours.to_numpy(), np.array(reference, dtype=float)
    return {
        "name": f"composition {preset} ({len(compositions)} materials)",
        "time": t_ours, "reference_time": t_ref, "ratio": t_ref / t_ours,
        "max_difference": _max_relative_difference(ours, reference),
        "difference_kind": "relative",
        "nan_mismatch": int((np.isnan(ours) != np.isnan(reference)).sum()),
    }


def compare_neighbors(structures: Sequence, cutoff: float = 8.0,
                      max_neighbors: int = 12) -> dict:
    """Time :func:`neighbor_edges` against the ``get_all_neighbors`` loop; compare edges."""
    from hybridlib.graphs import GraphParams, neighbor_edges, reference_edges

    params = GraphParams(cutoff=cutoff, max_neighbors=max_neighbors)
    ours, t_ours = _timed(lambda: [neighbor_edges(s, params) for s in structures], repeat=_REPEAT)
    reference, t_ref = _timed(lambda: [reference_edges(s, params) for s in structures])
    worst, n_edge_set_mismatch = 0.0, 0
    for fast, slow in zip(ours, reference):
        fast_map = {(int(j), int(i), tuple(map(int, im))): d
                    for j, i, im, d in zip(fast.src, fast.dst, fast.image, fast.dist)}
        slow_map = {(j, i, im): d for j, i, im, d in slow}
        if fast_map.keys() != slow_map.keys():
            n_edge_set_mismatch += 1
            continue
        worst = max(worst, max(abs(fast_map[k] - slow_map[k]) for k in slow_map))
    return {"name": f"neighbours top-{max_neighbors} < {cutoff} A ({len(structures)} structures)",
            "time": t_ours, "reference_time": t_ref, "ratio": t_ref / t_ours,
            "max_difference": worst, "difference_kind": "A",
            "edge_set_mismatch": n_edge_set_mismatch}


def compare_line_graph(structures: Sequence, backtracking: bool = True) -> dict:
    """Time :func:`line_graph_pairs` against the naive loop over bond pairs; compare cosines."""
    from hybridlib.graphs import line_graph_pairs, neighbor_edges, reference_line_graph

    edges = [neighbor_edges(s) for s in structures]
    as_tuples = [[(int(j), int(i), tuple(map(int, im))) for j, i, im in zip(e.src, e.dst, e.image)]
                 for e in edges]
    ours, t_ours = _timed(lambda: [line_graph_pairs(e, backtracking) for e in edges],
                          repeat=_REPEAT)
    reference, t_ref = _timed(lambda: [reference_line_graph(s, t, backtracking)
                                       for s, t in zip(structures, as_tuples)])
    worst, n_pair_mismatch = 0.0, 0
    for (e1, e2, cos), slow in zip(ours, reference):
        fast_map = {(int(a), int(b)): c for a, b, c in zip(e1, e2, cos)}
        slow_map = {(a, b): c for a, b, c in slow}
        if fast_map.keys() != slow_map.keys():
            n_pair_mismatch += 1
            continue
        worst = max(worst, max((abs(fast_map[k] - slow_map[k]) for k in slow_map), default=0.0))
    return {"name": f"line graph angles ({len(structures)} structures)",
            "time": t_ours, "reference_time": t_ref, "ratio": t_ref / t_ours,
            "max_difference": worst, "difference_kind": "cosine",
            "pair_set_mismatch": n_pair_mismatch}


def _rss_kib(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def graph_memory(df, line_graph: bool) -> dict:
    """Build the graph dataset of ``df`` (no cache) and report its size and peak memory.

    The peak is the rise of the process's peak resident memory while building (Linux:
    the peak is reset first through ``/proc/self/clear_refs``; elsewhere it is not measured).
    """
    import torch

    from hybridlib.graphs import graph_dataset

    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _rss_kib("VmRSS")
    except OSError:
        before = None
    graphs, seconds = _timed(graph_dataset, df, line_graph=line_graph, cache=False)
    peak = _rss_kib("VmHWM") if before is not None else None
    tensor_bytes = sum(v.numel() * v.element_size() for g in graphs for v in g.values()
                       if isinstance(v, torch.Tensor))
    return {"name": f"graph dataset{' + line graph' if line_graph else ''} ({len(df)} materials)",
            "time": seconds, "n_edges": sum(g.num_edges for g in graphs),
            "n_pairs": sum(g.lg_edge_index.size(1) for g in graphs) if line_graph else 0,
            "tensor_mib": tensor_bytes / 2**20,
            "peak_rise_mib": None if peak is None else (peak - before) / 1024}


def _print_rows(rows: list[dict]) -> None:
    print(f"{'comparison':<52} {'ours s':>8} {'ref s':>8} {'ratio':>7}  max difference")
    for row in rows:
        extra = {k: v for k, v in row.items() if k.endswith("mismatch")}
        print(f"{row['name']:<52} {row['time']:>8.3f} {row['reference_time']:>8.3f} "
              f"{row['ratio']:>7.1f}  {row['max_difference']:.2e} ({row['difference_kind']}) "
              + " ".join(f"{k}={v}" for k, v in extra.items()))


def features(n_materials: int | None = None, n_neighbor_reference: int = 1000,
             n_line_graph_reference: int = 40, profile: str = "book") -> list[dict]:
    """Composition features, neighbour lists and line graphs against their references.

    Args:
        n_materials: materials for the composition comparison (None: the whole sample).
        n_neighbor_reference: structures for the (slow) ``get_all_neighbors`` reference.
        n_line_graph_reference: structures (<= 8 sites) for the naive line-graph loop.
        profile: profile whose data set gives the graph-dataset timing and memory.
    """
    from hybridlib.config import get_profile
    from hybridlib.data import load_dataset, load_mp_sample, subsample
    from hybridlib.graphs import build_graphs

    sample = subsample(load_mp_sample(), n_materials)
    structures = list(sample["structure"])
    step = max(1, len(structures) // n_neighbor_reference)
    small = [s for s in structures if len(s) <= 8]
    small = small[::max(1, len(small) // n_line_graph_reference)][:n_line_graph_reference]
    memory_df = load_dataset(get_profile(profile))
    memory = [graph_memory(memory_df, line_graph=False), graph_memory(memory_df, line_graph=True)]
    compositions = [s.composition for s in structures]
    rows = [compare_composition(compositions, "magpie"),
            compare_composition(compositions, "ward2016"),
            compare_neighbors(structures[::step][:n_neighbor_reference]),
            compare_line_graph(small)]
    _, t_all = _timed(build_graphs, structures)
    _, t_all_lg = _timed(build_graphs, structures, line_graph=True)
    _print_rows(rows)
    print(f"build_graphs, all {len(structures)} structures: {t_all:.2f} s "
          f"({t_all_lg:.2f} s with line graphs)")
    for m in memory:
        peak = "n/a" if m["peak_rise_mib"] is None else f"{m['peak_rise_mib']:.0f} MiB"
        print(f"{m['name']} [{profile}]: {m['time']:.2f} s, {m['n_edges']} edges, "
              f"{m['n_pairs']} angle pairs, tensors {m['tensor_mib']:.0f} MiB, "
              f"peak RSS rise {peak}")
    for row in rows:
        print(f"ratio {row['name']}: {row['ratio']:.1f}x")
    return rows + memory


def _forward_backward_time(module: Callable, inputs: Callable, repeat: int) -> float:
    """Best wall time of ``module(*inputs())`` plus a backward pass through its outputs."""
    import torch

    best = float("inf")
    for _ in range(repeat):
        args = inputs()
        start = time.perf_counter()
        out = module(*args)
        outputs = out if isinstance(out, tuple) else (out,)
        torch.autograd.backward([o.sum() for o in outputs])
        best = min(best, time.perf_counter() - start)
    return best


def _interleaved(ours: Callable, reference: Callable, inputs: Callable,
                 rounds: int = 5, repeat: int = 3) -> tuple[float, float]:
    """Best times of two implementations timed in alternation (a busy machine slows both)."""
    t_ours, t_ref = float("inf"), float("inf")
    for _ in range(rounds):
        t_ours = min(t_ours, _forward_backward_time(ours, inputs, repeat))
        t_ref = min(t_ref, _forward_backward_time(reference, inputs, repeat))
    return t_ours, t_ref


def _layer_batch(n_graphs: int = 64, profile: str = "book"):
    """One training batch of the profile (line graph included), as the models see it."""
    from torch_geometric.loader import DataLoader

    from hybridlib.config import get_profile
    from hybridlib.data import load_dataset
    from hybridlib.graphs import build_graphs

    df = load_dataset(get_profile(profile))
    rows = df[df["split"] == "train"].iloc[:n_graphs]
    graphs = build_graphs(list(rows["structure"]), line_graph=True)
    return next(iter(DataLoader(graphs, batch_size=n_graphs)))


def compare_cgconv(batch, channels: int = 64) -> dict:
    """:class:`FactorizedCGConv` against PyG's ``CGConv`` with the same weights (fwd + bwd)."""
    import torch
    from torch_geometric.nn import CGConv

    from hybridlib.models.cgcnn import FactorizedCGConv
    from hybridlib.models.layers import GaussianExpansion

    torch.manual_seed(0)
    reference = CGConv(channels, 41, aggr="add", batch_norm=True)
    ours = FactorizedCGConv(channels, 41)
    ours.load_state_dict(reference.state_dict())
    edge_attr = GaussianExpansion()(batch.edge_dist)
    x = torch.randn(batch.num_nodes, channels)

    def inputs():
        return x.clone().requires_grad_(), batch.edge_index, edge_attr

    t_ours, t_ref = _interleaved(ours, reference, inputs)
    with torch.no_grad():
        diff = (ours(*inputs()) - reference(*inputs())).abs().max().item()
    return {"name": f"CGConv, fwd+bwd ({batch.num_nodes} atoms, {edge_attr.shape[0]} edges)",
            "time": t_ours, "reference_time": t_ref, "ratio": t_ref / t_ours,
            "max_difference": diff, "difference_kind": "abs"}


def compare_megnet_edge_update(batch) -> dict:
    """MEGNet's factorized first edge layer against the MLP on the concatenation."""
    import torch

    from hybridlib.models.megnet import MEGNetGraphConv

    torch.manual_seed(0)
    conv = MEGNetGraphConv(32)
    source, target = batch.edge_index
    edge_batch = batch.batch[target]
    e, x = torch.randn(batch.edge_index.shape[1], 32), torch.randn(batch.num_nodes, 32)
    u = torch.randn(batch.num_graphs, 32)

    def concatenated(e, x, u):
        return conv.edge_mlp(torch.cat([x[target], x[source], e, u[edge_batch]], dim=-1))

    def factorized(e, x, u):
        return conv._edge_update(e, x, u, source, target, edge_batch)

    def inputs():
        return tuple(t.clone().requires_grad_() for t in (e, x, u))

    t_ours, t_ref = _interleaved(factorized, concatenated, inputs)
    with torch.no_grad():
        diff = (factorized(*inputs()) - concatenated(*inputs())).abs().max().item()
    return {"name": f"MEGNet edge update, fwd+bwd ({len(e)} edges)",
            "time": t_ours, "reference_time": t_ref, "ratio": t_ref / t_ours,
            "max_difference": diff, "difference_kind": "abs"}


def compare_distinct_embedding(batch, hidden: int = 64) -> dict:
    """ALIGNN's angle embedding once per distinct cosine against once per bond pair."""
    import copy

    import torch

    from hybridlib.models.alignn import LinearBNSiLU
    from hybridlib.models.layers import AngleExpansion, DistinctValueEmbedding

    torch.manual_seed(0)
    layers = [AngleExpansion(40), LinearBNSiLU(40, hidden), LinearBNSiLU(hidden, hidden)]
    reference = torch.nn.Sequential(*copy.deepcopy(layers)).train()
    ours = DistinctValueEmbedding(*layers).train()
    cos = batch.angle_cos

    t_ours, t_ref = _interleaved(ours, reference, lambda: (cos,))
    with torch.no_grad():
        diff = (ours.eval()(cos) - reference.eval()(cos)).abs().max().item()
    return {"name": f"ALIGNN angle embedding, fwd+bwd ({len(cos)} pairs, "
                    f"{len(torch.unique(cos))} distinct)",
            "time": t_ours, "reference_time": t_ref, "ratio": t_ref / t_ours,
            "max_difference": diff, "difference_kind": "abs"}


def layers(n_graphs: int | None = 64, profile: str = "book") -> list[dict]:
    """The faster layers of the graph models against their plain forms, on one batch.

    CGCNN's convolution (node parts of the gate multiplied per atom), MEGNet's first edge
    layer (the same factorization) and ALIGNN's angle embedding (once per distinct value),
    each timed forward + backward, single-threaded, alternating with its reference.
    """
    import torch

    torch.set_num_threads(1)
    batch = _layer_batch(n_graphs or 64, profile)
    rows = [compare_cgconv(batch), compare_megnet_edge_update(batch),
            compare_distinct_embedding(batch)]
    _print_rows(rows)
    for row in rows:
        print(f"ratio {row['name']}: {row['ratio']:.1f}x")
    return rows


def _bare_epoch(model, loader) -> float:
    """The seed's plain loop (Adam, L1, no schedule/clipping/validation): one epoch, seconds."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for batch in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.l1_loss(model(batch), batch.y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


#: Graph models of the book, as the train benchmark builds them (name -> needs line graphs).
TRAIN_MODELS = {"cgcnn": False, "early_fusion": False, "alignn": True, "megnet": False}


def _build_model(name: str, settings, train_set):
    from hybridlib.models import ALIGNN, CGCNN, MEGNet, EarlyFusion, composition_stats

    if name == "cgcnn":
        return CGCNN(hidden=settings.model.hidden, n_conv=settings.model.n_conv)
    if name == "early_fusion":
        return EarlyFusion(CGCNN(hidden=settings.model.hidden, n_conv=settings.model.n_conv),
                           *composition_stats(train_set))
    if name == "alignn":
        return ALIGNN.from_profile(settings)
    return MEGNet.from_profile(settings)


def _train_one(name: str, n_materials: int, epochs: int, profile: str) -> dict:
    """Time ``fit`` and the bare loop for one model; run in a fresh process (own peak RSS)."""
    import resource

    import torch
    from torch_geometric.loader import DataLoader

    from hybridlib.config import get_profile
    from hybridlib.data import load_mp_sample, subsample
    from hybridlib.features import featurize_frame
    from hybridlib.graphs import build_graphs
    from hybridlib.train import TrainConfig, fit

    settings = get_profile(profile)
    df = subsample(load_mp_sample(), n_materials, settings.seed)
    graphs = build_graphs(list(df["structure"]), line_graph=TRAIN_MODELS[name],
                          targets=df["e_form"].to_numpy(),
                          comp=featurize_frame(df, "magpie", impute_nan=False))
    n_val = max(1, len(graphs) // 10)
    train_set, val_set = graphs[n_val:], graphs[:n_val]
    config = TrainConfig.from_profile(settings, epochs=epochs, device="cpu")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    torch.manual_seed(settings.seed)
    result = fit(_build_model(name, settings, train_set), train_set, val_set, config,
                 progress=False)
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    ours = min(row["seconds"] for row in result.history)
    torch.manual_seed(settings.seed)
    loader = DataLoader(train_set, batch_size=settings.training.batch_size, shuffle=True)
    model = _build_model(name, settings, train_set)
    reference = min(_bare_epoch(model, loader) for _ in range(epochs))
    return {"name": f"{name} epoch, {len(train_set)} train + {n_val} val graphs",
            "time": ours, "reference_time": reference, "ratio": ours / reference,
            "graphs_per_s": len(train_set) / ours, "peak_rss_rise_mib": peak_mib,
            "torch_threads": torch.get_num_threads()}


def train(n_materials: int | None = 1000, epochs: int = 3, profile: str = "book",
          models: Sequence[str] = tuple(TRAIN_MODELS)) -> list[dict]:
    """Training throughput (graphs/s) and peak memory of :func:`hybridlib.train.fit`.

    For CGCNN, early fusion, ALIGNN and MEGNet sized by ``profile`` (``ci`` and ``book``
    share model sizes and differ only in data size, so one run serves both), each in its own
    process so that the peak resident-memory rise during ``fit`` is that model's. Each time
    is the fastest of ``epochs`` epochs (the first pays one-off warm-up costs). The
    reference is the seed text's bare training loop over the same batches (Adam, L1 loss,
    nothing else); the ratio fit / bare is the trainer's overhead (target standardization,
    schedule, clipping, validation pass, best-weight copies). 90 % of the materials train.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "spawn": a forked child of a process whose OpenMP threads already ran can deadlock
    spawn = multiprocessing.get_context("spawn")
    rows = []
    for name in models:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            rows.append(pool.submit(_train_one, name, n_materials or 1000, epochs,
                                    profile).result())
    print(f"{'comparison':<48} {'fit s':>7} {'bare s':>7} {'graphs/s':>9} {'peak MiB':>9} "
          f"{'ratio':>6}")
    for row in rows:
        print(f"{row['name']:<48} {row['time']:>7.2f} {row['reference_time']:>7.2f} "
              f"{row['graphs_per_s']:>9.0f} {row['peak_rss_rise_mib']:>9.0f} "
              f"{row['ratio']:>6.2f}  (threads={row['torch_threads']})")
    for row in rows:
        print(f"ratio {row['name']}: {row['ratio']:.2f}x (fit / bare loop)")
    return rows


BENCHMARKS: dict[str, Callable[..., object]] = {"features": features, "layers": layers,
                                                 "train": train}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m tools.bench NAME [--n N]``."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="benchmark to run")
    parser.add_argument("--n", type=int, default=None,
                        help="materials to use (default: the whole sample)")
    args = parser.parse_args(argv)
    BENCHMARKS[args.name](args.n)

