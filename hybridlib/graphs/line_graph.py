"""The line graph of a crystal graph: pairs of bonds sharing an atom, with their angle.

Introduced in: chapter 5.4.
"""
from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from .neighbors import NeighborEdges

__all__ = ["line_graph_pairs", "bond_angle_table"]


def line_graph_pairs(edges: NeighborEdges, backtracking: bool = True
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of bonds sharing an atom, and the cosine of their angle.

    Returns:
        ``(e1, e2, cos)``: bond ``e1 = (j -> i)`` and bond ``e2 = (i -> k)``, i.e.
        ``dst[e1] == src[e2]``; ``cos`` = cosine of the angle j-i-k at the shared atom,
        clipped to [-1, 1]. Ordered by ``e1``, then ``e2``.
    """
    n_edges = len(edges.src)
    n_atoms = int(max(edges.src.max(initial=-1), edges.dst.max(initial=-1))) + 1
    outgoing = np.argsort(edges.src, kind="stable")
    out_count = np.bincount(edges.src, minlength=n_atoms)
    out_start = np.cumsum(out_count) - out_count
    repeats = out_count[edges.dst]
    e1 = np.repeat(np.arange(n_edges), repeats)
    rank = np.arange(len(e1)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    e2 = outgoing[out_start[edges.dst][e1] + rank]
    if not backtracking:
        reverse = (edges.dst[e2] == edges.src[e1]) & (edges.image[e2] == -edges.image[e1]).all(1)
        e1, e2 = e1[~reverse], e2[~reverse]
    # bond i->j is vec[e1]; bond i->k is -vec[e2] (vec[e2] points from k to i's image)
    cos = -np.einsum("ij,ij->i", edges.vec[e1], edges.vec[e2]) / (edges.dist[e1] * edges.dist[e2])
    return e1, e2, np.clip(cos, -1.0, 1.0)


def bond_angle_table(graph, structure: Structure):
    """The line graph of one crystal as a readable table, one row per pair of bonds.

    Returns:
        DataFrame with ``j, i, k`` (sites as ``"Na0"``: species + index; ``i`` is the shared
        atom), bond lengths ``d_ij, d_ik`` (A), ``cos`` (the ``angle_cos`` feature) and
        ``angle_deg``, sorted by shared atom and angle.
    """
    import pandas as pd

    if getattr(graph, "lg_edge_index", None) is None:
        raise ValueError("the graph has no line graph: build it with line_graph=True")
    src, dst = graph.edge_index.numpy()
    e1, e2 = graph.lg_edge_index.numpy()
    names = [f"{site.specie}{n}" for n, site in enumerate(structure)]
    cos = graph.angle_cos.numpy().astype(float)
    table = pd.DataFrame({
        "j": [names[a] for a in src[e1]], "i": [names[a] for a in dst[e1]],
        "k": [names[a] for a in dst[e2]],
        "d_ij": graph.edge_dist.numpy()[e1], "d_ik": graph.edge_dist.numpy()[e2],
        "cos": cos, "angle_deg": np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))})
    return table.sort_values(["i", "angle_deg"], kind="stable").reset_index(drop=True)


