"""Graphs of a whole data table, cached on disk.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Sequence

import numpy as np
import torch

from .crystal import CrystalGraph, as_params, build_graphs
from .neighbors import GraphParams, check_structure

__all__ = ["graph_dataset", "structures_digest"]

_CACHE_VERSION = 2  # 2: keyed on positions, lattices, species and target values


_FIELDS = ("z", "edge_index", "edge_vec", "edge_dist", "lg_edge_index", "angle_cos")


def _pack(graphs: list[CrystalGraph]) -> dict:
    """Concatenate graphs into a dict of tensors (loadable with ``weights_only=True``)."""
    packed: dict = {"material_id": [g.material_id for g in graphs]}
    for key in _FIELDS + ("y", "comp"):
        if key in graphs[0]:
            dim = -1 if key.endswith("index") else 0
            packed[key] = torch.cat([g[key] for g in graphs], dim=dim)
    packed["num_nodes"] = torch.tensor([g.num_nodes for g in graphs])
    packed["num_edges"] = torch.tensor([g.edge_index.size(1) for g in graphs])
    if "lg_edge_index" in packed:
        packed["num_pairs"] = torch.tensor([g.lg_edge_index.size(1) for g in graphs])
    return packed


def _unpack(packed: dict) -> list[CrystalGraph]:
    counts = {"z": "num_nodes", "edge_index": "num_edges", "edge_vec": "num_edges",
              "edge_dist": "num_edges", "lg_edge_index": "num_pairs", "angle_cos": "num_pairs"}
    pieces = {}
    for key, count in counts.items():
        if key in packed:
            dim = -1 if key.endswith("index") else 0
            pieces[key] = torch.split(packed[key], packed[count].tolist(), dim=dim)
    for key in ("y", "comp"):
        if key in packed:
            pieces[key] = torch.split(packed[key], 1, dim=0)
    graphs = []
    n_nodes = packed["num_nodes"].tolist()
    for i, material_id in enumerate(packed["material_id"]):
        graphs.append(CrystalGraph(num_nodes=n_nodes[i], material_id=material_id,
                                   **{key: values[i] for key, values in pieces.items()}))
    return graphs


def _check_packed(packed: dict, path, n_expected: int) -> None:
    from ..cache import CacheCorruptedError

    try:
        ok = (len(packed["material_id"]) == n_expected
              and int(packed["num_nodes"].sum()) == packed["z"].numel()
              and int(packed["num_edges"].sum()) == packed["edge_index"].size(1))
    except (KeyError, AttributeError, TypeError) as exc:
        raise CacheCorruptedError(f"cache file {path} lacks fields: {exc}") from exc
    if not ok:
        raise CacheCorruptedError(f"cache file {path} has inconsistent sizes")


def structures_digest(structures: Sequence, ids: Sequence[str]) -> str:
    """sha256 of every lattice, fractional coordinate and atomic number, in order.

    Any change of a structure's content (an atom moved by 0.001 A, a species swapped, a cell
    strained) changes the digest; a disordered structure is refused with its name.
    """
    digest = hashlib.sha256()
    for material_id, structure in zip(ids, structures):
        if not structure.is_ordered:
            check_structure(structure, material_id)  # raises, naming the material
        for array in (structure.lattice.matrix, structure.frac_coords,
                      np.asarray(structure.atomic_numbers, dtype=np.int64)):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def graph_dataset(df, params: GraphParams | dict | None = None, *, line_graph: bool = False,
                  targets: Sequence[str] = (), comp: np.ndarray | None = None,
                  cache: bool = True) -> list[CrystalGraph]:
    """Graphs of every row of a :mod:`hybridlib.data` table, cached on disk.

    Args:
        df: table with ``material_id``, ``structure`` and the target columns.
        params: graph settings (see :func:`build_graphs`; a ``Profile`` is accepted).
        line_graph: add the ALIGNN line graph.
        targets: target columns, in order -> ``y`` (1, len(targets)).
        comp: (len(df), D) composition features -> ``comp``.
        cache: read/write ``<cache_dir>/graphs/<fingerprint>.pt``. The key covers everything
            the graphs hold: the ids, every structure's content
            (:func:`structures_digest`), the graph params, ``line_graph``, the target names
            and their values, and a digest of ``comp``. A damaged file is reported (warning)
            and rebuilt.

    Raises:
        DataFormatError: a column is missing.
        ValueError: ``comp`` has the wrong number of rows, or a target is NaN/infinite.
        InvalidStructureError, IsolatedAtomError: see :func:`neighbor_edges`.
    """
    from ..cache import cached, fingerprint, load_tensors, save_tensors
    from ..data import cache_dir
    from ..data.tables import require_columns

    params = as_params(params)
    targets = list(targets)
    require_columns(df, ["material_id", "structure", *targets], "the table given to graph_dataset")
    ids = list(df["material_id"])
    y = df[targets].to_numpy(dtype=np.float64) if targets else None
    comp_array = None if comp is None else np.ascontiguousarray(comp, dtype=np.float32)
    if comp_array is not None and len(comp_array) != len(df):
        raise ValueError(f"comp has {len(comp_array)} rows for {len(df)} materials")

    def build() -> list[CrystalGraph]:
        return build_graphs(list(df["structure"]), params, line_graph=line_graph, targets=y,
                            comp=comp_array, ids=ids)

    if not cache:
        return build()

    def array_digest(array: np.ndarray | None):
        if array is None:
            return None
        return [array.shape, hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()]

    key = fingerprint(ids, structures_digest(df["structure"], ids), asdict(params), line_graph,
                      targets, array_digest(y), array_digest(comp_array), _CACHE_VERSION)
    path = cache_dir() / "graphs" / f"{key}.pt"

    def load(p) -> list[CrystalGraph]:
        packed = load_tensors(p)
        _check_packed(packed, p, len(df))
        return _unpack(packed)

    return cached(path, build, save=lambda p, graphs: save_tensors(p, _pack(graphs)), load=load)
