"""Crystal graphs (CGCNN) and their line graphs with bond angles (ALIGNN), fast and cached.

A crystal graph has one node per atom of the unit cell and one directed edge from each of
the ``max_neighbors`` nearest periodic neighbours ``j`` (any image) to each centre atom ``i``
within ``cutoff`` (Xie & Grossman 2018). Its line graph (Choudhary & DeCost 2021) has one node
per edge and connects bond ``e1 = (j -> i)`` to bond ``e2 = (i -> k)``: the two bonds share
atom ``i``, and the pair carries the cosine of the bond angle j-i-k.

Choices (documented here once):

* **Ties at the k-th neighbour are all kept**: every neighbour not farther than the k-th
  nearest distance plus ``tie_tol`` (1e-6 A) is an edge, so the graph does not depend on the
  order in which equidistant neighbours are listed (ALIGNN keeps ties too; the original
  CGCNN code keeps the first 12 after sorting, which breaks ties arbitrarily). In symmetric
  crystals a centre therefore often has more than 12 incoming edges.
* **Isolated atoms** (no neighbour within ``cutoff``, e.g. a molecule in a large box): the
  cutoff of that structure is multiplied by ``cutoff_growth`` until every atom has a
  neighbour, up to ``max_cutoff``; beyond that :class:`IsolatedAtomError` names the
  material, the atom and the largest cutoff tried. (ALIGNN grows its cutoff, without a
  maximum, whenever some atom has fewer than 12 neighbours; here only isolated atoms trigger
  it.) Atoms with at least one but fewer than ``max_neighbors`` neighbours keep the
  neighbours they have, as in CGCNN's message passing without padding.
* **Structures no graph can describe** are refused with :class:`InvalidStructureError`, which
  names the material and the problem: no sites, partial occupancies (order them first), a
  species that is not an element (``Xx``), a cell of zero volume, or two atoms closer than
  ``MIN_SEPARATION`` (0.5 A, a site written twice).
* **Backtracking pairs**: a pair ``(e1, e2)`` where ``e2`` is exactly the reverse of ``e1``
  (same two atoms, opposite image; angle 0, cosine 1) is kept by default, as DGL's
  ``line_graph`` does in ALIGNN; ``backtracking=False`` drops exactly those pairs.

Neighbours come from pymatgen's compiled cell-list search (``find_points_in_spheres``, the
engine of ``Structure.get_neighbor_list``), first within a small probe radius and only when
needed within the full cutoff, followed by a vectorized top-k; line graphs are built with
index arithmetic, no Python loop over bonds. :func:`reference_edges` and
:func:`reference_line_graph` are the slow, straightforward versions the tests and
``python -m tools.bench features`` compare with.
The package: :mod:`.neighbors` (edges), :mod:`.line_graph` (angles), :mod:`.crystal`
(PyG graphs), :mod:`.dataset` (cached graphs of a table), :mod:`.reference` (slow versions).
Introduced in: chapter 5.2 (crystal graph) and 5.4 (line graph).
"""
from __future__ import annotations

from .crystal import CrystalGraph, as_params, build_graphs, crystal_graph
from .dataset import graph_dataset
from .line_graph import bond_angle_table, line_graph_pairs
from .neighbors import (GraphParams, InvalidStructureError, IsolatedAtomError, NeighborEdges,
                        check_structure, neighbor_edges)
from .reference import reference_edges, reference_line_graph

__all__ = [
    "CrystalGraph", "GraphParams", "IsolatedAtomError", "InvalidStructureError", "NeighborEdges",
    "neighbor_edges", "check_structure",
    "line_graph_pairs", "bond_angle_table", "crystal_graph", "build_graphs", "as_params",
    "graph_dataset", "reference_edges", "reference_line_graph",
]
