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
* **Backtracking pairs**: a pair ``(e1, e2)`` where ``e2`` is exactly the reverse of ``e1``
  (same two atoms, opposite image; angle 0, cosine 1) is kept by default, as DGL's
  ``line_graph`` does in ALIGNN; ``backtracking=False`` drops exactly those pairs.

Neighbours come from pymatgen's compiled cell-list search (``find_points_in_spheres``, the
engine of ``Structure.get_neighbor_list``), first within a small probe radius and only when
needed within the full cutoff, followed by a vectorized top-k; line graphs are built with
index arithmetic, no Python loop over bonds. :func:`reference_edges` and
:func:`reference_line_graph` are the slow, straightforward versions the tests and
``python -m tools.bench features`` compare with.
Introduced in: chapter 5.2 (crystal graph) and 5.4 (line graph).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from pymatgen.core import Structure
from torch import nn
from torch_geometric.data import Data

__all__ = [
    "CrystalGraph", "GraphParams", "IsolatedAtomError", "NeighborEdges", "neighbor_edges",
    "line_graph_pairs", "bond_angle_table", "crystal_graph", "build_graphs", "graph_dataset", "reference_edges",
    "reference_line_graph", "RadialBasisExpansion", "GaussianExpansion", "RBFExpansion",
    "AngleExpansion",
]

_CACHE_VERSION = 1
_SELF_TOL = 1e-8  # pymatgen's tolerance for "the same point"


class IsolatedAtomError(ValueError):
    """An atom has no neighbour within the largest allowed cutoff."""


@dataclass(frozen=True)
class GraphParams:
    """How crystal graphs are built.

    Attributes:
        cutoff: neighbour search radius (A); CGCNN uses 8.
        max_neighbors: neighbours per centre atom (ties at the last one kept); CGCNN: 12.
        max_cutoff: largest radius tried for structures with isolated atoms (A).
        cutoff_growth: factor applied to the radius while some atom is isolated.
        tie_tol: distances within this of the k-th nearest count as ties (A).
        backtracking: keep line-graph pairs of a bond with its exact reverse.
    """

    cutoff: float = 8.0
    max_neighbors: int = 12
    max_cutoff: float = 16.0
    cutoff_growth: float = 1.5
    tie_tol: float = 1e-6
    backtracking: bool = True

    def __post_init__(self):
        if not 0 < self.cutoff <= self.max_cutoff:
            raise ValueError(f"need 0 < cutoff <= max_cutoff, got {self.cutoff}, {self.max_cutoff}")
        if self.max_neighbors < 1:
            raise ValueError(f"max_neighbors must be >= 1, got {self.max_neighbors}")
        if self.cutoff_growth <= 1:
            raise ValueError(f"cutoff_growth must be > 1, got {self.cutoff_growth}")


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


# ------------------------------------------------------------------------ neighbours

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


def _describe(structure: Structure, material_id: str | None) -> str:
    name = f"{material_id!r} " if material_id is not None else ""
    return f"structure {name}({structure.composition.reduced_formula}, {len(structure)} sites)"


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
        f"{_describe(structure, material_id)}: atom {atom} ({structure[atom].species_string}) "
        f"has no neighbour within {params.max_cutoff} A (cutoff grown from {params.cutoff} A); "
        f"raise GraphParams.max_cutoff or drop the material")


def neighbor_edges(structure: Structure, params: GraphParams = GraphParams(),
                   material_id: str | None = None) -> NeighborEdges:
    """Nearest periodic neighbours of every atom (see the module docstring for the rules).

    Raises:
        IsolatedAtomError: an atom has no neighbour even at ``params.max_cutoff``.
        ValueError: the structure has no sites.
    """
    if len(structure) == 0:
        raise ValueError(f"{_describe(structure, material_id)} has no sites")
    cart = np.ascontiguousarray(structure.cart_coords, dtype=float)
    matrix = np.ascontiguousarray(structure.lattice.matrix, dtype=float)
    (dst, src, image, _), cutoff = _nearest_pairs(structure, cart, matrix, params, material_id)
    image = np.rint(image).astype(np.int64)
    vec = cart[src] + image @ matrix - cart[dst]
    return NeighborEdges(src, dst, image, vec, np.linalg.norm(vec, axis=1), cutoff)


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


def bond_angle_table(graph: "CrystalGraph", structure: Structure):
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


# ---------------------------------------------------------------------- references

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


# --------------------------------------------------------------------------- graphs

def _as_params(params: GraphParams | dict | None, **overrides) -> GraphParams:
    if params is None:
        params = GraphParams()
    elif isinstance(params, dict):
        params = GraphParams(**params)
    elif not isinstance(params, GraphParams):
        graph = getattr(params, "extra", {}).get("graph", {})  # a config.Profile
        params = GraphParams(**graph)
    changes = {k: v for k, v in overrides.items() if v is not None}
    return GraphParams(**{**asdict(params), **changes}) if changes else params


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
        structure: a pymatgen ``Structure`` (ordered; occupancies are ignored).
        cutoff, max_neighbors: neighbour rule; None keeps ``params``' (default 8 A, 12).
        line_graph: also build ``lg_edge_index`` and ``angle_cos``.
        params: the other graph settings (:class:`GraphParams`).
        y, comp, material_id: optional targets, composition features and id.
    """
    params = _as_params(params, cutoff=cutoff, max_neighbors=max_neighbors)
    return _to_graph(structure, params, line_graph, y, comp, material_id)


def build_graphs(structures: Sequence[Structure], params: GraphParams | dict | None = None, *,
                 line_graph: bool = False, targets: np.ndarray | None = None,
                 comp: np.ndarray | None = None, ids: Sequence[str] | None = None
                 ) -> list[CrystalGraph]:
    """Crystal graphs of many structures.

    Args:
        structures: pymatgen structures.
        params: graph settings (:class:`GraphParams`, a dict of its fields or a Profile whose
            ``extra["graph"]`` holds them); default CGCNN's 8 A / 12 neighbours.
        line_graph: add the ALIGNN line graph.
        targets: (n,) or (n, n_targets) array -> ``y`` of shape (1, n_targets).
        comp: (n, D) composition features -> ``comp`` of shape (1, D).
        ids: material ids (also named in error messages).

    Raises:
        ValueError: array lengths differ from the number of structures.
        IsolatedAtomError: see :func:`neighbor_edges`.
    """
    params = _as_params(params)
    n = len(structures)
    for name, values in (("targets", targets), ("comp", comp), ("ids", ids)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} rows for {n} structures")
    targets = None if targets is None else np.asarray(targets, dtype=np.float64).reshape(n, -1)
    if targets is not None and not np.isfinite(targets).all():
        bad = int(np.flatnonzero(~np.isfinite(targets).all(axis=1))[0])
        raise ValueError(f"targets of structure #{bad} ({ids[bad] if ids is not None else ''}) "
                         "are NaN or infinite")
    return [_to_graph(s, params, line_graph,
                      None if targets is None else targets[i],
                      None if comp is None else comp[i],
                      None if ids is None else ids[i])
            for i, s in enumerate(structures)]


# ---------------------------------------------------------------------------- cache

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
    from .cache import CacheCorruptedError

    try:
        ok = (len(packed["material_id"]) == n_expected
              and int(packed["num_nodes"].sum()) == packed["z"].numel()
              and int(packed["num_edges"].sum()) == packed["edge_index"].size(1))
    except (KeyError, AttributeError, TypeError) as exc:
        raise CacheCorruptedError(f"cache file {path} lacks fields: {exc}") from exc
    if not ok:
        raise CacheCorruptedError(f"cache file {path} has inconsistent sizes")


def graph_dataset(df, params: GraphParams | dict | None = None, *, line_graph: bool = False,
                  targets: Sequence[str] = (), comp: np.ndarray | None = None,
                  cache: bool = True) -> list[CrystalGraph]:
    """Graphs of every row of a :mod:`hybridlib.data` table, cached on disk.

    Args:
        df: table with ``material_id``, ``formula``, ``structure`` and the target columns.
        params: graph settings (see :func:`build_graphs`; a ``Profile`` is accepted).
        line_graph: add the ALIGNN line graph.
        targets: target columns, in order -> ``y`` (1, len(targets)).
        comp: (len(df), D) composition features -> ``comp``.
        cache: read/write ``<cache_dir>/graphs/<fingerprint>.pt``; the key covers the ids,
            formulas, cell volumes, params, targets and a digest of ``comp``. A damaged file
            is reported (warning) and rebuilt.
    """
    from .cache import cached, fingerprint, load_tensors, save_tensors
    from .data import cache_dir

    params = _as_params(params)
    targets = list(targets)
    y = df[targets].to_numpy(dtype=np.float64) if targets else None
    comp_array = None if comp is None else np.ascontiguousarray(comp, dtype=np.float32)
    if comp_array is not None and len(comp_array) != len(df):
        raise ValueError(f"comp has {len(comp_array)} rows for {len(df)} materials")

    def build() -> list[CrystalGraph]:
        return build_graphs(list(df["structure"]), params, line_graph=line_graph, targets=y,
                            comp=comp_array, ids=list(df["material_id"]))

    if not cache:
        return build()
    key = fingerprint(
        list(df["material_id"]), list(df["formula"]),
        [round(s.volume, 6) for s in df["structure"]], asdict(params), line_graph, targets,
        None if comp_array is None else hashlib.sha256(comp_array.tobytes()).hexdigest(),
        None if comp_array is None else comp_array.shape, _CACHE_VERSION)
    path = cache_dir() / "graphs" / f"{key}.pt"

    def load(p) -> list[CrystalGraph]:
        packed = load_tensors(p)
        _check_packed(packed, p, len(df))
        return _unpack(packed)

    return cached(path, build, save=lambda p, graphs: save_tensors(p, _pack(graphs)), load=load)


# ------------------------------------------------------------------------ expansions

class RadialBasisExpansion(nn.Module):
    r"""Gaussians on fixed centres: :math:`e_k(x) = \exp(-\gamma (x - \mu_k)^2)`.

    Shapes:
        input (...,) -> output (..., num_centres). Centres are a buffer, not trained.
    """

    def __init__(self, centres: torch.Tensor, gamma: float):
        super().__init__()
        self.register_buffer("centres", centres.to(torch.get_default_dtype()))
        self.gamma = float(gamma)

    @property
    def out_features(self) -> int:
        return self.centres.numel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        exponent = -self.gamma * (x.unsqueeze(-1) - self.centres) ** 2
        # exp(-88) and below are subnormal floats, which made every matmul reading this output
        # (and its gradient) ~20x slower on CPU: terms below exp(-80) < 2e-35 become exactly 0.
        return torch.exp(exponent.masked_fill(exponent < -80.0, -math.inf))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({float(self.centres[0]):g}..{float(self.centres[-1]):g}, "
                f"{self.out_features} centres, gamma={self.gamma:.4g})")


class GaussianExpansion(RadialBasisExpansion):
    r"""CGCNN's distance expansion (Xie & Grossman 2018).

    :math:`e_k(d) = \exp(-(d - \mu_k)^2 / \sigma^2)`, centres :math:`\mu_k` from ``start`` to
    ``stop`` every ``step``, width :math:`\sigma` = ``step`` (41 centres for 0-8 A, step 0.2).
    """

    CITATION_KEYS = ("xie2018cgcnn",)

    def __init__(self, start: float = 0.0, stop: float = 8.0, step: float = 0.2):
        if step <= 0 or stop <= start:
            raise ValueError(f"need start < stop and step > 0, got {start}, {stop}, {step}")
        n = int(round((stop - start) / step)) + 1
        super().__init__(torch.linspace(start, stop, n, dtype=torch.float64), 1.0 / step ** 2)


class RBFExpansion(RadialBasisExpansion):
    r"""ALIGNN's RBF expansion (Choudhary & DeCost 2021).

    ``bins`` centres evenly spaced on [vmin, vmax];
    :math:`e_k(x) = \exp(-(x - c_k)^2 / \ell)`, with :math:`\ell` = ``lengthscale``, by
    default the centre spacing (ALIGNN's convention: :math:`\gamma = 1/\ell`, not
    :math:`1/\ell^2`).
    """

    CITATION_KEYS = ("choudhary2021alignn",)

    def __init__(self, vmin: float = 0.0, vmax: float = 8.0, bins: int = 40,
                 lengthscale: float | None = None):
        if bins < 2 or vmax <= vmin:
            raise ValueError(f"need vmin < vmax and bins >= 2, got {vmin}, {vmax}, {bins}")
        centres = torch.linspace(vmin, vmax, bins, dtype=torch.float64)
        lengthscale = lengthscale if lengthscale is not None else (vmax - vmin) / (bins - 1)
        super().__init__(centres, 1.0 / lengthscale)


class AngleExpansion(RBFExpansion):
    """RBF expansion of bond-angle cosines: 40 centres on [-1, 1], as in ALIGNN."""

    def __init__(self, bins: int = 40):
        super().__init__(-1.0, 1.0, bins)
