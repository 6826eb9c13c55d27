"""Nearest periodic neighbours of every atom: the edges of a crystal graph.

The rules (ties, isolated atoms) are documented in :mod:`hybridlib.graphs`.
Introduced in: chapter 5.2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from ..config import GraphParams
from ..constants import MAX_Z

__all__ = ["GraphParams", "IsolatedAtomError", "InvalidStructureError", "NeighborEdges",
           "MIN_SEPARATION", "neighbor_edges", "symmetrized", "check_structure", "describe"]

_SELF_TOL = 1e-8  # pymatgen's tolerance for "the same point"
#: Atoms closer than this (Å) are one site written twice, not a bond (pymatgen's
#: ``validate_proximity`` uses the same 0.5 Å; the shortest real bond, H-H, is 0.74 Å).
MIN_SEPARATION = 0.5
#: A cell whose volume is below this fraction of ``a * b * c`` has (nearly) coplanar vectors.
_FLAT_CELL = 1e-6


class IsolatedAtomError(ValueError):
    """An atom has no neighbour within the largest allowed cutoff."""


class InvalidStructureError(ValueError):
    """A structure cannot become a crystal graph: no sites, partial occupancies, a species
    that is not a chemical element, a degenerate cell or overlapping atoms."""


@dataclass(frozen=True)
class NeighborEdges:
    """Edges of one structure as numpy arrays (float64 geometry).

    Attributes:
        src, dst: (E,) neighbour and centre atom indices.
        image: (E, 3) integer lattice image of the neighbour.
        vec: (E, 3) r_src + image @ lattice - r_dst (A); ``dist``: (E,) its norm.
        cutoff: the radius finally used (larger than asked when atoms were isolated).
    """

    src: np.ndarray
    dst: np.ndarray
    image: np.ndarray
    vec: np.ndarray
    dist: np.ndarray
    cutoff: float



def _pairs_within(cart: np.ndarray, matrix: np.ndarray, pbc: np.ndarray, radius: float):
    """All (centre, neighbour, image, distance) pairs closer than ``radius``, self excluded."""
    from pymatgen.optimization.neighbors import find_points_in_spheres

    center, neighbor, image, dist = find_points_in_spheres(
        cart, cart, r=radius, pbc=pbc, lattice=matrix, tol=_SELF_TOL)
    keep = ~((center == neighbor) & (dist <= _SELF_TOL))
    return center[keep], neighbor[keep], image[keep], dist[keep]


def _nearest_per_center(center: np.ndarray, dist: np.ndarray, n_atoms: int, k: int,
                        tie_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs kept per centre: all within the k-th smallest distance + ``tie_tol``.

    Returns:
        Indices of the kept pairs (ordered by centre, then distance) and each centre's
        k-th distance (inf where a centre has fewer than k pairs).
    """
    order = np.lexsort((dist, center))
    center, dist = center[order], dist[order]
    counts = np.bincount(center, minlength=n_atoms)
    starts = np.cumsum(counts) - counts
    kth = np.full(n_atoms, np.inf)
    full = counts >= k
    kth[full] = dist[starts[full] + k - 1]
    return order[dist <= kth[center] + tie_tol], kth


def _cutoffs(params: GraphParams):
    cutoff = params.cutoff
    while cutoff < params.max_cutoff:
        yield cutoff
        cutoff *= params.cutoff_growth
    yield params.max_cutoff


def describe(structure: Structure, material_id: str | None) -> str:
    """``structure 'mp-1' (NaCl, 2 sites)``: how error messages name a structure."""
    name = f"{material_id!r} " if material_id is not None else ""
    return f"structure {name}({structure.composition.reduced_formula}, {len(structure)} sites)"


def check_structure(structure: Structure, material_id: str | None = None) -> None:
    """Reject a structure no crystal graph can be built from, naming it and the problem.

    Raises:
        InvalidStructureError: no sites; partial occupancies (disorder); a species that is
            not a chemical element (a dummy species such as ``Xx``); non-finite coordinates;
            a cell of zero volume. Overlapping atoms are found by :func:`neighbor_edges`.
    """
    def fail(problem: str) -> None:
        raise InvalidStructureError(f"{describe(structure, material_id)} {problem}")

    if len(structure) == 0:
        fail("has no sites")
    if not structure.is_ordered:
        sites = [i for i, site in enumerate(structure) if not site.is_ordered]
        fail(f"is disordered: sites {sites[:5]} have partial occupancies "
             f"({structure[sites[0]].species}); order it first (e.g. pymatgen's "
             "OrderDisorderedStructureTransformation) or drop it")
    z = np.asarray(structure.atomic_numbers)
    bad = np.flatnonzero((z < 1) | (z > MAX_Z))
    if len(bad):
        fail(f"holds {structure[int(bad[0])].species_string!r} at site {int(bad[0])}, which is "
             "not a chemical element")
    matrix = structure.lattice.matrix
    if not (np.isfinite(matrix).all() and np.isfinite(structure.frac_coords).all()):
        fail("has a non-finite lattice or coordinates")
    volume = abs(float(np.linalg.det(matrix)))
    if volume <= _FLAT_CELL * float(np.prod(np.linalg.norm(matrix, axis=1))):
        fail(f"has a degenerate cell (volume {volume:.3g} A^3): its lattice vectors are "
             "(nearly) coplanar")


def _check_separation(structure: Structure, edges: "NeighborEdges",
                      material_id: str | None) -> None:
    close = np.flatnonzero(edges.dist < MIN_SEPARATION)
    if len(close):
        e = int(close[np.argmin(edges.dist[close])])
        i, j = sorted((int(edges.dst[e]), int(edges.src[e])))
        raise InvalidStructureError(
            f"{describe(structure, material_id)}: atoms {i} ({structure[i].species_string}) "
            f"and {j} ({structure[j].species_string}) are {edges.dist[e]:.3f} A apart, closer "
            f"than {MIN_SEPARATION} A: a site written twice or overlapping atoms")


def _nearest_pairs(structure: Structure, cart: np.ndarray, matrix: np.ndarray,
                   params: GraphParams, material_id: str | None):
    """The kept (centre, neighbour, image, distance) pairs and the cutoff used.

    A first search within a small probe radius (where ~2.5 k neighbours are expected) is
    enough when every centre finds its k nearest, ties included, strictly inside it;
    otherwise the full cutoff is searched. Both give the same pairs.
    """
    n_atoms = len(cart)
    pbc = np.ascontiguousarray(structure.lattice.pbc, dtype=np.int64)
    k = params.max_neighbors
    volume = abs(np.linalg.det(matrix))
    probe = (2.5 * k * 3 * volume / (4 * math.pi * n_atoms)) ** (1 / 3)
    if probe < params.cutoff:
        pairs = _pairs_within(cart, matrix, pbc, probe)
        keep, kth = _nearest_per_center(pairs[0], pairs[3], n_atoms, k, params.tie_tol)
        if (kth + params.tie_tol < probe - _SELF_TOL).all():
            return tuple(a[keep] for a in pairs), params.cutoff
    for cutoff in _cutoffs(params):
        pairs = _pairs_within(cart, matrix, pbc, cutoff)
        degree = np.bincount(pairs[0], minlength=n_atoms)
        if degree.min() > 0:
            keep, _ = _nearest_per_center(pairs[0], pairs[3], n_atoms, k, params.tie_tol)
            return tuple(a[keep] for a in pairs), cutoff
    atom = int(np.argmin(degree))
    raise IsolatedAtomError(
        f"{describe(structure, material_id)}: atom {atom} ({structure[atom].species_string}) "
        f"has no neighbour within {params.max_cutoff} A (cutoff grown from {params.cutoff} A); "
        f"raise GraphParams.max_cutoff or drop the material")


def neighbor_edges(structure: Structure, params: GraphParams = GraphParams(),
                   material_id: str | None = None) -> NeighborEdges:
    """Nearest periodic neighbours of every atom (see the module docstring for the rules).

    Raises:
        InvalidStructureError: see :func:`check_structure`, or two atoms closer than
            :data:`MIN_SEPARATION`.
        IsolatedAtomError: an atom has no neighbour even at ``params.max_cutoff``.
    """
    check_structure(structure, material_id)
    cart = np.ascontiguousarray(structure.cart_coords, dtype=float)
    matrix = np.ascontiguousarray(structure.lattice.matrix, dtype=float)
    (dst, src, image, _), cutoff = _nearest_pairs(structure, cart, matrix, params, material_id)
    image = np.rint(image).astype(np.int64)
    vec = cart[src] + image @ matrix - cart[dst]
    edges = NeighborEdges(src, dst, image, vec, np.linalg.norm(vec, axis=1), cutoff)
    _check_separation(structure, edges, material_id)
    return symmetrized(edges) if params.undirected else edges


def symmetrized(edges: NeighborEdges) -> NeighborEdges:
    """The edges plus the reverse of every edge that lacks one (an undirected graph).

    The reverse of ``j -> i`` through lattice image ``n`` is ``i -> j`` through ``-n``, with
    the opposite vector and the same length. A neighbour list "k nearest of each centre" is
    not symmetric (``j`` may be among ``i``'s nearest but not ``i`` among ``j``'s); ALIGNN's
    reference implementation adds the missing reverses. Edges stay ordered by centre, then
    distance.
    """
    src = np.concatenate([edges.src, edges.dst])
    dst = np.concatenate([edges.dst, edges.src])
    image = np.concatenate([edges.image, -edges.image])
    vec = np.concatenate([edges.vec, -edges.vec])
    dist = np.concatenate([edges.dist, edges.dist])
    _, first = np.unique(np.column_stack([src, dst, image]), axis=0, return_index=True)
    keep = first[np.lexsort((dist[first], dst[first]))]
    return NeighborEdges(src[keep], dst[keep], image[keep], vec[keep], dist[keep], edges.cutoff)

