"""Slow, straightforward neighbour and line-graph searches that the tests and
``python -m tools.bench features`` compare the fast versions with.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from pymatgen.core import Structure

from .neighbors import GraphParams

__all__ = ["reference_edges", "reference_line_graph"]


def reference_edges(structure: Structure, params: GraphParams = GraphParams()
                    ) -> list[tuple[int, int, tuple[int, int, int], float]]:
    """Straightforward per-site neighbour search with ``get_all_neighbors`` (slow reference).

    Same tie rule as :func:`neighbor_edges`; no cutoff growth.

    Returns:
        ``(src, dst, image, distance)`` per edge, ordered by centre, then distance.
    """
    edges = []
    for center, neighbors in enumerate(structure.get_all_neighbors(params.cutoff)):
        neighbors = sorted(neighbors, key=lambda nb: nb.nn_distance)
        if len(neighbors) >= params.max_neighbors:
            last = neighbors[params.max_neighbors - 1].nn_distance + params.tie_tol
            neighbors = [nb for nb in neighbors if nb.nn_distance <= last]
        edges += [(nb.index, center, tuple(int(round(x)) for x in nb.image), nb.nn_distance)
                  for nb in neighbors]
    return edges


def reference_line_graph(structure: Structure, edges: Sequence[tuple], backtracking: bool = True
                         ) -> list[tuple[int, int, float]]:
    """Naive double loop over bonds: ``(e1, e2, cos)`` for every pair sharing an atom.

    ``edges`` are ``(src, dst, image, ...)`` tuples; positions come from pymatgen sites.
    """
    matrix = structure.lattice.matrix
    position = [site.coords for site in structure]
    pairs = []
    for a, (j, i, image_1, *_) in enumerate(edges):
        to_j = position[j] + np.dot(image_1, matrix) - position[i]
        for b, (i2, k, image_2, *_) in enumerate(edges):
            if i2 != i:
                continue
            if not backtracking and k == j and tuple(-x for x in image_2) == tuple(image_1):
                continue
            to_k = position[k] - np.dot(image_2, matrix) - position[i]
            cos = np.dot(to_j, to_k) / (np.linalg.norm(to_j) * np.linalg.norm(to_k))
            pairs.append((a, b, float(min(1.0, max(-1.0, cos)))))
    return pairs
