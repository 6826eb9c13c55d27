"""ALIGNN, its edge-gated convolution and the seed's simplified variant (hybridlib.models.alignn)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from scipy.spatial.transform import Rotation
from torch_geometric.loader import DataLoader

from hybridlib.graphs import crystal_graph
from hybridlib.models.alignn import (ALIGNN, ALIGNNLayer, ALIGNNSimple, EdgeGatedGraphConv,
                                     LinearBNSiLU)

TINY = dict(hidden=16, embedding=8, alignn_layers=1, gcn_layers=1)


@pytest.fixture(scope="module")
def structures(mp_small):
    """Three real structures of the shared sample (3+ atoms, 2+ elements)."""
    rows = mp_small[(mp_small["n_sites"] >= 3) & (mp_small["n_elements"] >= 2)]
    return list(rows["structure"].iloc[:3])


def _batch(graphs):
    return next(iter(DataLoader(graphs, batch_size=len(graphs))))


def _predict(model, structure, **graph_kwargs):
    model.eval()
    with torch.no_grad():
        return model(_batch([crystal_graph(structure, line_graph=True, **graph_kwargs)]))


# ------------------------------------------------------------------ line graph and angles

def test_line_graph_angles_match_bond_geometry(structures):
    """angle_cos is the cosine at the shared atom of bonds that are true periodic bonds."""
    for structure in structures:
        graph = crystal_graph(structure, line_graph=True)
        src, dst = graph.edge_index.numpy()
        vec = graph.edge_vec.double().numpy()
        cart = structure.cart_coords
        # every edge vector is neighbour - centre up to a whole lattice translation
        image = structure.lattice.get_fractional_coords(vec - (cart[src] - cart[dst]))
        assert np.allclose(image, np.round(image), atol=1e-4)
        assert np.allclose(np.linalg.norm(vec, axis=1), graph.edge_dist.numpy(), atol=1e-4)
        e1, e2 = graph.lg_edge_index.numpy()
        assert np.array_equal(dst[e1], src[e2])  # the two bonds share atom i
        to_j, to_k = vec[e1], -vec[e2]  # i -> j and i -> k
        cos = (to_j * to_k).sum(1) / np.linalg.norm(to_j, axis=1) / np.linalg.norm(to_k, axis=1)
        assert np.allclose(graph.angle_cos.numpy(), cos, atol=1e-5)


def test_diamond_first_shell_angles_are_tetrahedral():
    silicon = Structure(Lattice.cubic(5.431), ["Si"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]])
    silicon = silicon.get_primitive_structure()
    graph = crystal_graph(silicon, line_graph=True)
    first_shell = graph.edge_dist < 2.5
    e1, e2 = graph.lg_edge_index
    both = first_shell[e1] & first_shell[e2]
    cos = graph.angle_cos[both]
    backtracking = torch.isclose(cos, torch.tensor(1.0), atol=1e-5)
    assert backtracking.sum() == first_shell.sum()  # each bond paired with its reverse once
    assert torch.allclose(cos[~backtracking], torch.tensor(-1.0 / 3.0), atol=1e-5)


def test_alignn_reads_angle_cos_and_simple_model_ignores_it(structures):
    """Angles act only through the gates, so at initialisation their effect on the output is
    small (~1e-7): compare in float64, where the models that skip angles give equal bits."""
    graph = crystal_graph(structures[0], line_graph=True)
    bent = graph.clone()  # (negating every cosine is no test: inversion centres make it a no-op)
    bent.angle_cos = torch.rand(graph.angle_cos.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    batches = []
    for g in (graph, bent):
        batch = _batch([g])
        batch.edge_dist, batch.angle_cos = batch.edge_dist.double(), batch.angle_cos.double()
        batches.append(batch)
    torch.manual_seed(0)
    for model, uses_angles in ((ALIGNN(**TINY), True), (ALIGNNSimple(hidden=16, n_conv=1), False),
                               (ALIGNN(**{**TINY, "alignn_layers": 0}), False)):
        model.double().eval()
        with torch.no_grad():
            difference = (model(batches[0]) - model(batches[1])).abs().max().item()
        assert (difference > 1e-12) == uses_angles, (type(model).__name__, difference)


# ------------------------------------------------------------------ the convolution itself

def _explicit_gated_conv(conv: EdgeGatedGraphConv, x, edge_index, e):
    """The update rule written out edge by edge (eval-mode batch norm)."""
    f = conv.channels
    weight, bias = conv.node_linear.weight, conv.node_linear.bias
    A, B, U, V = [x @ weight[k * f:(k + 1) * f].T + bias[k * f:(k + 1) * f] for k in range(4)]
    C = e @ conv.edge_gate.weight.T + conv.edge_gate.bias
    logits = torch.stack([A[i] + B[j] + C[k] for k, (j, i) in enumerate(edge_index.T.tolist())])
    sigma = torch.sigmoid(logits)
    h = torch.zeros_like(x)
    norm = torch.zeros_like(x)
    for k, (j, i) in enumerate(edge_index.T.tolist()):
        h[i] += sigma[k] * V[j]
        norm[i] += sigma[k]
    x_new = torch.nn.functional.silu(conv.bn_nodes(U + h / (norm + conv.eps)))
    e_new = torch.nn.functional.silu(conv.bn_edges(logits))
    return x + x_new, e + e_new


def test_edge_gated_conv_matches_the_update_rule():
    torch.manual_seed(0)
    conv = EdgeGatedGraphConv(6)
    for bn in (conv.bn_nodes, conv.bn_edges):  # non-trivial eval-mode statistics
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    conv.eval()
    x, e = torch.randn(5, 6), torch.randn(9, 6)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 0, 2, 4, 1], [1, 0, 0, 0, 0, 2, 3, 3, 4]])
    got_x, got_e = conv(x, edge_index, e)
    want_x, want_e = _explicit_gated_conv(conv, x, edge_index, e)
    assert torch.allclose(got_x, want_x, atol=1e-5)
    assert torch.allclose(got_e, want_e, atol=1e-5)


def test_gates_are_normalised_per_target_node():
    """With U = 0 and V = identity the aggregate is a per-channel convex mix of neighbours."""
    torch.manual_seed(1)
    conv = EdgeGatedGraphConv(4, residual=False).eval()
    with torch.no_grad():
        conv.node_linear.weight.view(4, 4, 4)[2].zero_()                 # U = 0
        conv.node_linear.weight.view(4, 4, 4)[3].copy_(torch.eye(4))     # V = identity
        conv.node_linear.bias.view(4, 4)[2:].zero_()
    conv.bn_nodes = torch.nn.Identity()
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 1.0, 0.5], [5.0, 5.0, 5.0, 5.0]])
    out, _ = conv(x, torch.tensor([[0, 1], [2, 2]]), torch.randn(2, 4))
    silu = torch.nn.functional.silu
    assert (out[2] >= silu(torch.minimum(x[0], x[1])) - 1e-4).all()
    assert (out[2] <= silu(torch.maximum(x[0], x[1])) + 1e-4).all()
    assert not torch.allclose(out[2], silu((x[0] + x[1]) / 2))  # gated, not a plain mean
    assert torch.allclose(out[:2], torch.zeros(2, 4))  # no incoming edge and U = 0: silu(0)


# ------------------------------------------------------------------ the model

def test_shapes_embedding_and_repr(structures):
    torch.manual_seed(0)
    model = ALIGNN(n_targets=2, **TINY)
    batch = _batch([crystal_graph(s, line_graph=True) for s in structures])
    assert model(batch).shape == (3, 2)
    assert model.embed(batch).shape == (3, 16)
    assert str(model) == "ALIGNN(hidden=16, alignn_layers=1, gcn_layers=1, n_targets=2, order='line_first')"
    assert str(EdgeGatedGraphConv(16)) == "EdgeGatedGraphConv(16, eps=1e-06, residual=True)"
    assert str(ALIGNNLayer(8, "atom_first")) == "ALIGNNLayer(8, order='atom_first')"
    assert str(LinearBNSiLU(92, 64)) == "LinearBNSiLU(92, 64)"
    assert str(ALIGNNSimple(hidden=16, n_conv=2)) == "ALIGNNSimple(hidden=16, n_conv=2, n_targets=1)"


def test_paper_configuration_has_the_reference_parameter_count():
    """4,026,753 = alignn 2026.8.11 ALIGNNAtomWisePure with the ALIGNNConfig defaults
    (counted by tools/bench/reference.py in its own environment)."""
    model = ALIGNN()
    assert (model.hidden, model.n_alignn, model.n_gcn) == (256, 4, 4)
    assert sum(p.numel() for p in model.parameters()) == 4_026_753


def test_from_profile_builds_the_model_the_profile_sizes(structures):
    """Each profile size reaches its own argument (two layer counts that differ would be
    swapped unnoticed by a test on equal ones), and the output has one column per target."""
    from hybridlib.config import get_profile

    profile = get_profile("ci").with_(model={"hidden": 16, "alignn_layers": 1, "gcn_layers": 2})
    model = ALIGNN.from_profile(profile, n_targets=2)
    explicit = ALIGNN(2, hidden=16, alignn_layers=1, gcn_layers=2)
    swapped = ALIGNN(2, hidden=16, alignn_layers=2, gcn_layers=1)
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [p.shape for p in explicit.parameters()]
    assert shapes != [p.shape for p in swapped.parameters()]
    wider = ALIGNN.from_profile(profile.with_(model={"hidden": 32}), n_targets=2)
    assert sum(p.numel() for p in wider.parameters()) > sum(p.numel() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        out = model(_batch([crystal_graph(s, line_graph=True) for s in structures]))
    assert out.shape == (len(structures), 2) and torch.isfinite(out).all()


def _rotated(structure: Structure, angles=(30.0, 45.0, 60.0)) -> Structure:
    rotation = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    lattice = Lattice(structure.lattice.matrix @ rotation.T)
    return Structure(lattice, structure.species, structure.frac_coords)


def _permuted(structure: Structure, seed: int = 0) -> Structure:
    order = np.random.default_rng(seed).permutation(len(structure))
    return Structure(structure.lattice, [structure.species[i] for i in order],
                     structure.frac_coords[order])


def _translated(structure: Structure, shift=(0.31, 0.17, 0.59)) -> Structure:
    return Structure(structure.lattice, structure.species, (structure.frac_coords + shift) % 1.0)


@pytest.mark.parametrize("make_model", [lambda: ALIGNN(**TINY),
                                        lambda: ALIGNNSimple(hidden=16, n_conv=2)],
                         ids=["ALIGNN", "ALIGNNSimple"])
def test_invariant_to_atom_order_translation_and_rotation(structures, make_model):
    torch.manual_seed(0)
    model = make_model()
    for structure in structures:
        reference = _predict(model, structure)
        for changed in (_permuted(structure), _translated(structure), _rotated(structure)):
            assert torch.allclose(_predict(model, changed), reference, atol=1e-4)


def test_deterministic_with_a_seed(structures):
    batch = _batch([crystal_graph(s, line_graph=True) for s in structures])
    results = []
    for _ in range(2):
        torch.manual_seed(7)
        model = ALIGNN(**TINY)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        for _ in range(3):
            optimizer.zero_grad()
            model(batch).abs().mean().backward()
            optimizer.step()
        model.eval()
        results.append(model(batch).detach())
    assert torch.equal(results[0], results[1])


def test_layer_orders_differ_but_share_parameters(structures):
    batch = _batch([crystal_graph(s, line_graph=True) for s in structures])
    torch.manual_seed(0)
    line_first = ALIGNN(**TINY).eval()
    atom_first = ALIGNN(**TINY, order="atom_first").eval()
    atom_first.load_state_dict(line_first.state_dict())
    assert not torch.allclose(line_first(batch), atom_first(batch))
    with pytest.raises(ValueError, match="order"):
        ALIGNNLayer(8, order="sideways")


def test_clear_errors(structures):
    model = ALIGNN(**TINY)
    plain = _batch([crystal_graph(structures[0])])
    with pytest.raises(ValueError, match="line graph"):
        model(plain)
    graph = crystal_graph(structures[0], line_graph=True)
    graph.z = graph.z.clone()
    graph.z[0] = 150
    with pytest.raises(ValueError, match="atomic numbers"):
        model(_batch([graph]))
    conv = EdgeGatedGraphConv(4)
    with pytest.raises(ValueError, match="channels"):
        conv(torch.randn(3, 5), torch.tensor([[0], [1]]), torch.randn(1, 4))
    with pytest.raises(ValueError, match="edges"):
        conv(torch.randn(3, 4), torch.tensor([[0], [1]]), torch.randn(2, 4))


def test_distinct_value_embedding_equals_the_network_on_every_row():
    """Outputs, gradients and batch-norm running statistics equal those of the same layers
    applied row by row; repeated values are embedded once."""
    import copy

    from hybridlib.models.alignn import LinearBNSiLU
    from hybridlib.models.layers import AngleExpansion, DistinctValueEmbedding

    torch.manual_seed(0)
    layers = [AngleExpansion(40), LinearBNSiLU(40, 12), LinearBNSiLU(12, 6)]
    reference = torch.nn.Sequential(*copy.deepcopy(layers)).double().train()
    ours = DistinctValueEmbedding(*layers).double().train()
    values = torch.tensor([0.3, -1.0, 0.3, 0.3, 0.5, -1.0, 0.9], dtype=torch.float64)
    out_ref, out = reference(values), ours(values)
    torch.testing.assert_close(out, out_ref, rtol=1e-10, atol=1e-12)
    weight = torch.randn_like(out)
    for got, want in zip(torch.autograd.grad((out * weight).sum(), list(ours.parameters())),
                         torch.autograd.grad((out_ref * weight).sum(),
                                             list(reference.parameters()))):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    for (name, got), want in zip(ours.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=name)
    ours.eval(), reference.eval()
    torch.testing.assert_close(ours(values), reference(values), rtol=1e-10, atol=1e-12)
    assert list(ours.state_dict()) == list(reference.state_dict())  # same parameter names
