"""Crystal graphs equal a straightforward neighbour search; line-graph angles equal a naive loop."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from hybridlib import graphs
from hybridlib.data import DataFormatError
from hybridlib.graphs import (GraphParams, InvalidStructureError, IsolatedAtomError, build_graphs,
                              crystal_graph, graph_dataset, line_graph_pairs, neighbor_edges,
                              reference_edges, reference_line_graph)


@pytest.fixture(scope="module")
def structures(mp_sample):
    """204 real structures spread over the sample (every 50th)."""
    return list(mp_sample["structure"].iloc[::50])


@pytest.fixture(scope="module")
def small_structures(structures):
    """A dozen real structures with at most 6 sites (the naive line graph is quadratic)."""
    return [s for s in structures if len(s) <= 6][:12]


def _edge_map(edges) -> dict:
    return {(int(j), int(i), tuple(map(int, image))): d
            for j, i, image, d in zip(edges.src, edges.dst, edges.image, edges.dist)}


def _as_tuples(edges) -> list[tuple]:
    return [(int(j), int(i), tuple(map(int, image)))
            for j, i, image in zip(edges.src, edges.dst, edges.image)]


def test_edges_equal_get_all_neighbors_reference(structures):
    assert len(structures) >= 200
    for structure in structures:
        fast = _edge_map(neighbor_edges(structure))
        slow = {(j, i, image): d for j, i, image, d in reference_edges(structure)}
        assert fast.keys() == slow.keys(), structure.composition.reduced_formula
        np.testing.assert_allclose([fast[k] for k in slow], list(slow.values()), atol=1e-9)


def test_edge_vectors_follow_the_contract(structures):
    structure = structures[3]
    graph = crystal_graph(structure)
    src, dst = graph.edge_index
    edges = neighbor_edges(structure)
    cart = torch.tensor(structure.cart_coords)
    shift = torch.tensor(edges.image, dtype=torch.float64) @ torch.tensor(structure.lattice.matrix)
    expected = cart[src] + shift - cart[dst]
    torch.testing.assert_close(graph.edge_vec, expected.float())
    torch.testing.assert_close(graph.edge_dist, graph.edge_vec.norm(dim=1))
    assert graph.z.tolist() == list(structure.atomic_numbers) and graph.num_nodes == len(structure)
    assert graph.edge_index.dtype == torch.long and (graph.edge_dist <= 8.0).all()
    # every centre has at least 12 incoming edges (the sample's cells are dense enough)
    assert torch.bincount(dst, minlength=len(structure)).min() >= 12


def test_ties_at_the_kth_neighbour_are_kept():
    simple_cubic = Structure(Lattice.cubic(3.0), ["Po"], [[0, 0, 0]])
    edges = neighbor_edges(simple_cubic)  # 6 at 3 A, then 12 at 4.24 A: the 12th is a tie
    assert Counter(np.round(edges.dist, 6)) == {3.0: 6, round(3 * 2**0.5, 6): 12}
    assert len(neighbor_edges(simple_cubic, GraphParams(max_neighbors=6)).src) == 6
    assert len(neighbor_edges(simple_cubic, GraphParams(max_neighbors=7)).src) == 18


def test_atom_permutation_gives_the_same_edges(structures):
    structure = structures[10]
    order = np.random.default_rng(0).permutation(len(structure))
    permuted = Structure.from_sites([structure[i] for i in order])
    position = np.argsort(order)  # old index -> new index
    original = _edge_map(neighbor_edges(structure))
    moved = _edge_map(neighbor_edges(permuted))
    relabelled = {(int(position[j]), int(position[i]), image): d
                  for (j, i, image), d in original.items()}
    assert moved.keys() == relabelled.keys()
    np.testing.assert_allclose([moved[k] for k in relabelled], list(relabelled.values()),
                               atol=1e-9)


def test_translation_keeps_distances(structures):
    structure = structures[20]
    shifted = structure.copy()
    shifted.translate_sites(range(len(shifted)), [0.31, -0.17, 0.52], to_unit_cell=True)
    wrapped = structure.copy()
    wrapped.translate_sites([0], [1, 0, -2], to_unit_cell=False)  # one atom, by a lattice vector
    reference = neighbor_edges(structure)
    for other in (shifted, wrapped):
        edges = neighbor_edges(other)
        for centre in range(len(structure)):
            np.testing.assert_allclose(np.sort(edges.dist[edges.dst == centre]),
                                       np.sort(reference.dist[reference.dst == centre]), atol=1e-8)


@pytest.mark.parametrize("backtracking", [True, False])
def test_line_graph_angles_equal_naive_loop(small_structures, backtracking):
    assert len(small_structures) >= 8
    for structure in small_structures:
        edges = neighbor_edges(structure)
        e1, e2, cos = line_graph_pairs(edges, backtracking)
        assert (edges.dst[e1] == edges.src[e2]).all()
        naive = reference_line_graph(structure, _as_tuples(edges), backtracking)
        fast = {(int(a), int(b)): c for a, b, c in zip(e1, e2, cos)}
        assert fast.keys() == {(a, b) for a, b, _ in naive} and len(fast) == len(naive)
        np.testing.assert_allclose([fast[(a, b)] for a, b, _ in naive], [c for *_, c in naive],
                                   atol=1e-12)


def test_backtracking_pairs_are_exactly_the_reversed_bonds(small_structures):
    edges = neighbor_edges(small_structures[0])
    with_back = set(zip(*line_graph_pairs(edges, True)[:2]))
    without = set(zip(*line_graph_pairs(edges, False)[:2]))
    dropped = with_back - without
    index = {key: e for e, key in enumerate(_as_tuples(edges))}
    reverse = {(e, index[(i, j, tuple(-x for x in image))])
               for e, (j, i, image) in enumerate(_as_tuples(edges))
               if (i, j, tuple(-x for x in image)) in index}
    assert without < with_back and dropped == reverse
    cos = dict(zip(zip(*line_graph_pairs(edges, True)[:2]), line_graph_pairs(edges, True)[2]))
    assert all(cos[pair] == pytest.approx(1.0) for pair in dropped)


def test_batching_offsets_both_graphs(small_structures):
    chosen = small_structures[:3]
    singles = build_graphs(chosen, line_graph=True, targets=np.arange(6.0).reshape(3, 2),
                           comp=np.ones((3, 4)), ids=["a", "b", "c"])
    batch = next(iter(DataLoader(singles, batch_size=3, shuffle=False)))
    assert batch.y.shape == (3, 2) and batch.comp.shape == (3, 4)
    assert batch.material_id == ["a", "b", "c"]
    node_offset = edge_offset = pair_offset = 0
    for graph in singles:
        n_edges, n_pairs = graph.edge_index.size(1), graph.lg_edge_index.size(1)
        torch.testing.assert_close(batch.edge_index[:, edge_offset:edge_offset + n_edges],
                                   graph.edge_index + node_offset)
        torch.testing.assert_close(batch.lg_edge_index[:, pair_offset:pair_offset + n_pairs],
                                   graph.lg_edge_index + edge_offset)
        node_offset, edge_offset, pair_offset = (node_offset + graph.num_nodes,
                                                 edge_offset + n_edges, pair_offset + n_pairs)
    # the batched cosines still follow from the batched bond vectors
    e1, e2 = batch.lg_edge_index
    v1, v2 = batch.edge_vec[e1].double(), batch.edge_vec[e2].double()
    cos = -(v1 * v2).sum(1) / (v1.norm(dim=1) * v2.norm(dim=1))
    torch.testing.assert_close(cos.clamp(-1, 1).float(), batch.angle_cos, atol=1e-5, rtol=0)
    assert (batch.edge_index[1].bincount() >= 1).all()
    torch.testing.assert_close(Batch.from_data_list(singles).lg_edge_index, batch.lg_edge_index)


def test_isolated_atoms_grow_the_cutoff_then_fail():
    pair = Structure(Lattice.cubic(25.0), ["Ar", "Ar"], [[0, 0, 0], [0.4, 0, 0]])  # 10 A apart
    edges = neighbor_edges(pair)
    assert edges.cutoff == pytest.approx(12.0) and set(edges.dist.round(6)) == {10.0}
    lone = Structure(Lattice.cubic(30.0), ["He"], [[0, 0, 0]])
    with pytest.raises(IsolatedAtomError, match=r"'mp-lonely'.*atom 0 \(He\).*16.0 A"):
        build_graphs([lone], ids=["mp-lonely"])
    assert len(neighbor_edges(lone, GraphParams(max_cutoff=31.0)).src) == 6


def test_bad_inputs_raise(small_structures):
    with pytest.raises(ValueError, match="targets has 1 rows for 2"):
        build_graphs(small_structures[:2], targets=[1.0])
    with pytest.raises(ValueError, match="NaN"):
        build_graphs(small_structures[:2], targets=[1.0, float("nan")], ids=["x", "y"])
    with pytest.raises(ValueError, match="max_cutoff"):
        GraphParams(cutoff=20.0)
    with pytest.raises(InvalidStructureError, match="no sites"):
        neighbor_edges(Structure(Lattice.cubic(3.0), [], []))


# ------------------------------------------------------------- structures no graph can hold

ROCKSALT = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _with_site(species, coords, lattice=ROCKSALT.lattice) -> Structure:
    return Structure(lattice, ["Na", species], [[0, 0, 0], coords])


@pytest.mark.parametrize("structure, message", [
    (_with_site("Cl", [0, 0, 0]), r"atoms 0 \(Na\) and 1 \(Cl\) are 0.000 A apart"),
    (_with_site("Cl", [0.05, 0, 0]), r"0.282 A apart, closer than 0.5 A"),
    (_with_site("Xx", [0.5, 0.5, 0.5]), r"holds 'Xx0\+' at site 1, which is not a chemical"),
    (Structure(ROCKSALT.lattice, [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5] * 3]),
     r"is disordered: sites \[0\].*order it first"),
    (_with_site("Cl", [0.5, 0.5, 0.5], Lattice([[5, 0, 0], [0, 5, 0], [0, 0, 0]])),
     r"degenerate cell \(volume 0 A\^3\)"),
    (_with_site("Cl", [0.5, 0.5, 0.5], Lattice([[5, 0, 0], [10, 0, 0], [0, 0, 5]])),
     r"degenerate cell"),
    (Structure(ROCKSALT.lattice, [], []), "has no sites"),
], ids=["overlapping", "too-close", "fake-element", "disordered", "zero-volume", "coplanar",
        "empty"])
def test_structures_no_graph_can_hold_are_refused_by_name(structure, message):
    """The probe: overlapping atoms gave NaN angles (and later a misleading "lower the
    learning rate" error), a fake element a huge negative Z, disorder a pymatgen
    AttributeError and a zero-volume cell a ZeroDivisionError, none naming the material."""
    with pytest.raises(InvalidStructureError, match=r"'mp-bad' \(.*" + message):
        crystal_graph(structure, line_graph=True, material_id="mp-bad")
    with pytest.raises(InvalidStructureError, match="'mp-bad'"):
        build_graphs([ROCKSALT, structure], line_graph=True, ids=["mp-ok", "mp-bad"])


def test_the_shortest_real_bonds_are_kept():
    hydrogen = Structure(Lattice.cubic(6.0), ["H", "H"], [[0, 0, 0], [0.74 / 6, 0, 0]])
    graph = crystal_graph(hydrogen, line_graph=True)
    assert graph.edge_dist.min() == pytest.approx(0.74, abs=1e-6)
    assert torch.isfinite(graph.angle_cos).all()


def test_bad_structures_and_columns_in_a_table_are_named(mp_small):
    df = mp_small.iloc[:4].reset_index(drop=True)
    disordered = Structure(ROCKSALT.lattice, [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5] * 3])
    for bad in (_with_site("Cl", [0, 0, 0]), disordered):
        structures = list(df["structure"])
        structures[2] = bad
        with pytest.raises(InvalidStructureError, match=repr(df["material_id"].iat[2])):
            graph_dataset(df.assign(structure=structures), targets=("e_form",))
    with pytest.raises(DataFormatError, match=r"graph_dataset lacks the column\(s\) \['gap'\]"):
        graph_dataset(mp_small.iloc[:4], targets=("gap",))
    with pytest.raises(DataFormatError, match=r"\['structure'\]"):
        graph_dataset(mp_small.iloc[:4].drop(columns="structure"))


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -float("inf")])
def test_non_finite_targets_are_refused_by_crystal_graph_too(bad):
    with pytest.raises(ValueError, match=r"targets of structure 'mp-1' are NaN or infinite"):
        crystal_graph(ROCKSALT, y=[1.0, bad], material_id="mp-1")
    with pytest.raises(ValueError, match=r"structure 'b' are NaN or infinite.*1 of 2"):
        build_graphs([ROCKSALT, ROCKSALT], targets=[[1.0], [bad]], ids=["a", "b"])


def test_graph_dataset_cache_roundtrip_and_corruption(mp_small, monkeypatch, tmp_path):
    df = mp_small.iloc[:12]
    comp = np.random.default_rng(0).normal(size=(12, 5))
    built = graph_dataset(df, line_graph=True, targets=("e_form", "band_gap"), comp=comp)
    files = list((tmp_path / "cache" / "graphs").glob("*.pt"))
    assert len(files) == 1

    def fail(*args, **kwargs):
        raise AssertionError("graphs were rebuilt although cached")

    monkeypatch.setattr(graphs, "build_graphs", fail)
    loaded = graph_dataset(df, line_graph=True, targets=("e_form", "band_gap"), comp=comp)
    monkeypatch.undo()
    monkeypatch.setenv("HYBRIDLIB_CACHE_DIR", str(tmp_path / "cache"))
    assert len(loaded) == 12
    for a, b in zip(built, loaded):
        assert sorted(a.keys()) == sorted(b.keys()) and a.material_id == b.material_id
        for key in ("z", "edge_index", "edge_vec", "edge_dist", "lg_edge_index", "angle_cos",
                    "y", "comp"):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    torch.testing.assert_close(built[0].y, torch.tensor(
        [[df["e_form"].iat[0], df["band_gap"].iat[0]]], dtype=torch.float32))
    torch.testing.assert_close(built[3].comp, torch.from_numpy(comp[3:4]).float())
    files[0].write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="checksum"):
        rebuilt = graph_dataset(df, line_graph=True, targets=("e_form", "band_gap"), comp=comp)
    torch.testing.assert_close(rebuilt[5].angle_cos, built[5].angle_cos)
    graph_dataset(df, GraphParams(max_neighbors=8), targets=("e_form",))
    assert len(list((tmp_path / "cache" / "graphs").glob("*.pt"))) == 2


def test_params_from_profile_dict_and_overrides(small_structures):
    from hybridlib.config import get_profile

    assert graphs.as_params(get_profile("ci")) == GraphParams()
    custom = get_profile("ci").with_(graph={"max_neighbors": 6})
    assert graphs.as_params(custom) == GraphParams(max_neighbors=6)
    assert graphs.as_params({"cutoff": 6.0}).cutoff == 6.0
    params = GraphParams(max_neighbors=6)
    assert crystal_graph(small_structures[0], params=params).edge_index.size(1) == \
        build_graphs(small_structures[:1], params)[0].edge_index.size(1)
    assert crystal_graph(small_structures[0], max_neighbors=6, params=GraphParams()).num_edges == \
        crystal_graph(small_structures[0], params=params).num_edges


# ------------------------------------------------------------- the cache follows content

def _graph_files(tmp_path) -> set:
    return set((tmp_path / "cache" / "graphs").glob("*.pt"))


def test_graph_cache_follows_the_target_values(mp_small, tmp_path):
    """The probe: after the data file's e_form changed, training read the old cached
    targets (test MAE 1.108 instead of 0.330)."""
    df = mp_small.iloc[:6].reset_index(drop=True)
    before = graph_dataset(df, targets=("e_form",))
    changed = df.assign(e_form=df["e_form"] + 1.0)
    after = graph_dataset(changed, targets=("e_form",))
    torch.testing.assert_close(torch.cat([g.y for g in after]),
                               torch.cat([g.y for g in before]) + 1.0)
    assert len(_graph_files(tmp_path)) == 2


@pytest.mark.parametrize("change", ["move an atom", "swap a species", "strain the cell"])
def test_graph_cache_follows_the_structures(mp_small, tmp_path, change):
    """The probe: moving atoms by 0.3 A returned the old graph."""
    df = mp_small[mp_small["n_sites"] >= 2].iloc[:4].reset_index(drop=True)
    before = graph_dataset(df)
    structure = df["structure"].iat[1].copy()
    if change == "move an atom":
        structure.translate_sites([0], [0.3, 0.0, 0.0], frac_coords=False)
    elif change == "swap a species":
        structure.replace(0, "Zn" if structure[0].species_string != "Zn" else "Cd")
    else:
        structure.scale_lattice(structure.volume * 1.05)
    after = graph_dataset(df.assign(structure=[df["structure"].iat[0], structure,
                                               *df["structure"].iloc[2:]]))
    expected = crystal_graph(structure)
    torch.testing.assert_close(after[1].edge_dist, expected.edge_dist)
    torch.testing.assert_close(after[1].z, expected.z)
    assert not (torch.equal(after[1].z, before[1].z)
                and torch.equal(after[1].edge_dist, before[1].edge_dist))
    torch.testing.assert_close(after[0].edge_dist, before[0].edge_dist)
    assert len(_graph_files(tmp_path)) == 2


def test_undirected_edges_are_symmetric_and_add_only_missing_reverses(structures):
    """undirected=True: every edge j -> i (image n) has its reverse i -> j (image -n, same
    length, opposite vector); the directed k-NN edges are all kept and nothing is doubled."""
    from hybridlib.graphs.neighbors import symmetrized

    n_added = 0
    for structure in structures[:40]:
        directed = neighbor_edges(structure)
        undirected = neighbor_edges(structure, GraphParams(undirected=True))
        forward = _edge_map(undirected)
        assert len(forward) == len(undirected.src)  # no duplicate edge
        for (j, i, image), d in forward.items():
            reverse = (i, j, tuple(-k for k in image))
            assert reverse in forward and forward[reverse] == pytest.approx(d, abs=1e-12)
        assert _edge_map(directed).keys() <= forward.keys()
        missing = {(i, j, tuple(-k for k in image)) for j, i, image in _edge_map(directed)}
        assert len(forward) == len(_edge_map(directed).keys() | missing)
        n_added += len(forward) - len(directed.src)
        np.testing.assert_allclose(np.linalg.norm(undirected.vec, axis=1), undirected.dist)
        assert np.all(np.diff(undirected.dst) >= 0)  # still ordered by centre
        again = symmetrized(undirected)
        assert len(again.src) == len(undirected.src)  # idempotent
    assert n_added > 0  # k-NN lists are not symmetric in real crystals
    graph = crystal_graph(structures[0], params=GraphParams(undirected=True), line_graph=True)
    assert graph.edge_index.shape[1] == len(neighbor_edges(
        structures[0], GraphParams(undirected=True)).src)
