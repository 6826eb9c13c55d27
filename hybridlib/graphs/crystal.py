"""One crystal as a PyG graph (:class:`CrystalGraph`), built from its neighbour list.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from pymatgen.core import Structure
from torch_geometric.data import Data

from .line_graph import line_graph_pairs
from ..config import GraphParams, Profile
from .neighbors import neighbor_edges

__all__ = ["CrystalGraph", "crystal_graph", "build_graphs", "as_params"]


class CrystalGraph(Data):
    """One material as a PyG graph (fields: see the data contract in the module docstring).

    ``z`` (N,), ``edge_index`` (2, E) with row 0 = neighbour j and row 1 = centre i,
    ``edge_vec`` (E, 3) = r_j + image - r_i, ``edge_dist`` (E,), optional line graph
    ``lg_edge_index`` (2, T) indexing edges and ``angle_cos`` (T,), optional ``y`` (1, n_targets),
    ``comp`` (1, D), ``material_id``. Batching offsets ``lg_edge_index`` by the number of edges.
    """

    def __inc__(self, key, value, *args, **kwargs):
        if key == "lg_edge_index":
            return self.edge_index.size(1)
        return super().__inc__(key, value, *args, **kwargs)



def as_params(params: "GraphParams | dict | Profile | None", **overrides) -> GraphParams:
    """Graph settings from settings, a dict of their fields or a profile (its ``graph``);
    ``overrides`` that are not ``None`` replace single fields."""
    if params is None:
        params = GraphParams()
    elif isinstance(params, dict):
        params = GraphParams(**params)
    elif isinstance(params, Profile):
        params = params.graph
    elif not isinstance(params, GraphParams):
        raise TypeError(f"graph settings must be GraphParams, a dict or a Profile, "
                        f"got {type(params).__name__}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(params, **changes) if changes else params


def _check_finite_targets(targets: np.ndarray, ids: Sequence[str] | None) -> None:
    """Raise a ValueError naming the first structure whose (n, n_targets) row is not finite."""
    bad = np.flatnonzero(~np.isfinite(targets).all(axis=1))
    if len(bad):
        i = int(bad[0])
        name = repr(ids[i]) if ids is not None else f"#{i}"
        raise ValueError(f"targets of structure {name} are NaN or infinite "
                         f"({targets[i].tolist()}; {len(bad)} of {len(targets)} structures)")


def _to_graph(structure: Structure, params: GraphParams, line_graph: bool,
              y: Sequence[float] | None, comp: Sequence[float] | None,
              material_id: str | None) -> CrystalGraph:
    edges = neighbor_edges(structure, params, material_id)
    graph = CrystalGraph(
        z=torch.as_tensor(structure.atomic_numbers, dtype=torch.long),
        edge_index=torch.from_numpy(np.stack([edges.src, edges.dst])),
        edge_vec=torch.from_numpy(edges.vec.astype(np.float32)),
        edge_dist=torch.from_numpy(edges.dist.astype(np.float32)),
        num_nodes=len(structure),
    )
    if line_graph:
        e1, e2, cos = line_graph_pairs(edges, params.backtracking)
        graph.lg_edge_index = torch.from_numpy(np.stack([e1, e2]))
        graph.angle_cos = torch.from_numpy(cos.astype(np.float32))
    if y is not None:
        graph.y = torch.as_tensor(np.asarray(y, dtype=np.float32).reshape(1, -1))
    if comp is not None:
        graph.comp = torch.as_tensor(np.asarray(comp, dtype=np.float32).reshape(1, -1))
    if material_id is not None:
        graph.material_id = material_id
    return graph


def crystal_graph(structure: Structure, cutoff: float | None = None,
                  max_neighbors: int | None = None, *,
                  line_graph: bool = False, params: GraphParams | None = None,
                  y: Sequence[float] | None = None, comp: Sequence[float] | None = None,
                  material_id: str | None = None) -> CrystalGraph:
    """The crystal graph of one structure (optionally with its line graph).

    Args:
        structure: an ordered pymatgen ``Structure`` (see :func:`check_structure`).
        cutoff, max_neighbors: neighbour rule; None keeps ``params``' (default 8 A, 12).
        line_graph: also build ``lg_edge_index`` and ``angle_cos``.
        params: the other graph settings (:class:`GraphParams`).
        y, comp, material_id: optional targets, composition features and id.

    Raises:
        ValueError: ``y`` holds NaN or infinite values.
        InvalidStructureError, IsolatedAtomError: see :func:`neighbor_edges`.
    """
    if y is not None:
        _check_finite_targets(np.asarray(y, dtype=np.float64).reshape(1, -1),
                              None if material_id is None else [material_id])
    params = as_params(params, cutoff=cutoff, max_neighbors=max_neighbors)
    return _to_graph(structure, params, line_graph, y, comp, material_id)


def build_graphs(structures: Sequence[Structure], params: GraphParams | dict | None = None, *,
                 line_graph: bool = False, targets: np.ndarray | None = None,
                 comp: np.ndarray | None = None, ids: Sequence[str] | None = None
                 ) -> list[CrystalGraph]:
    """Crystal graphs of many structures.

    Args:
        structures: pymatgen structures.
        params: graph settings (:class:`GraphParams`, a dict of its fields or a Profile,
            whose ``graph`` part is used); default CGCNN's 8 A / 12 neighbours.
        line_graph: add the ALIGNN line graph.
        targets: (n,) or (n, n_targets) array -> ``y`` of shape (1, n_targets).
        comp: (n, D) composition features -> ``comp`` of shape (1, D).
        ids: material ids (also named in error messages).

    Raises:
        ValueError: array lengths differ from the number of structures, or targets hold
            NaN or infinite values.
        InvalidStructureError, IsolatedAtomError: see :func:`neighbor_edges`.
    """
    params = as_params(params)
    n = len(structures)
    for name, values in (("targets", targets), ("comp", comp), ("ids", ids)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} rows for {n} structures")
    targets = None if targets is None else np.asarray(targets, dtype=np.float64).reshape(n, -1)
    if targets is not None:
        _check_finite_targets(targets, ids)
    return [_to_graph(s, params, line_graph,
                      None if targets is None else targets[i],
                      None if comp is None else comp[i],
                      None if ids is None else ids[i])
            for i, s in enumerate(structures)]


