"""MEGNet blocks and model (hybridlib.models.megnet)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from scipy.spatial.transform import Rotation
from torch_geometric.loader import DataLoader

from hybridlib.graphs import crystal_graph
from hybridlib.models.megnet import DenseStack, MEGNet, MEGNetBlock, MEGNetGraphConv

TINY = dict(node_embedding=4, edge_bins=10, n_blocks=2, dense=(8, 6), conv_hidden=(8, 6),
            output_hidden=(5,))


@pytest.fixture(scope="module")
def structures(mp_small):
    rows = mp_small[(mp_small["n_sites"] >= 3) & (mp_small["n_elements"] >= 2)]
    return list(rows["structure"].iloc[:3])


def _batch(graphs):
    return next(iter(DataLoader(graphs, batch_size=len(graphs))))


def _predict(model, structure):
    model.eval()
    with torch.no_grad():
        return model(_batch([crystal_graph(structure)]))


def test_paper_configuration_matches_matgl_up_to_the_embedding_rows():
    """matgl 4.1.2 MEGNet(): 189,521 trainable parameters with 89 element rows of 16; ours
    embeds Z = 0..94 (95 rows): 6 * 16 = 96 more, the rest identical
    (tools/bench/reference.py prints both). The default atom-table input replaces the
    95 x 16 embedding by a 92 -> 16 linear layer (92 * 16 + 16 parameters)."""
    model = MEGNet(node_input="embedding")
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert n_trainable == 189_521 + 96
    assert model.element_embedding.weight.shape == (95, 16)
    table_model = MEGNet()
    assert sum(p.numel() for p in table_model.parameters()) == n_trainable - 95 * 16 + 92 * 16 + 16
    assert table_model.atom_table.shape[1] == 92
    first, later = model.blocks[0], model.blocks[1]
    assert first.pre is None and later.pre["edge"].dims == (32, 64, 32)
    assert later.conv.edge_mlp.dims == (128, 64, 64, 32)
    assert later.conv.node_mlp.dims == (96, 64, 64, 32)
    assert later.conv.state_mlp.dims == (96, 64, 64, 32)
    assert model.heads[0].dims == (160, 32, 16, 1)


def test_softplus2_is_zero_at_zero_and_last_layer_is_linear():
    stack = DenseStack((3, 4, 2), activate_last=False)
    assert str(stack) == "DenseStack(3 -> 4 -> 2)"
    assert isinstance(stack[-1], torch.nn.Linear)
    activation = stack[1]
    assert activation(torch.zeros(1)).item() == pytest.approx(0.0, abs=1e-7)
    assert activation(torch.tensor([2.0])).item() == pytest.approx(math.log1p(math.e**2) - math.log(2))


def test_graph_conv_matches_the_update_equations():
    """Edge -> node (mean over bonds *into* the centre atom) -> state, written out by hand."""
    torch.manual_seed(0)
    conv = MEGNetGraphConv(3, hidden=(5, 3)).eval()
    x, e = torch.randn(4, 3), torch.randn(5, 3)
    state = torch.randn(2, 3)
    batch = torch.tensor([0, 0, 0, 1])
    edge_index = torch.tensor([[1, 2, 0, 0, 3], [0, 0, 1, 2, 3]])  # row 1 = centre
    got_e, got_x, got_u = conv(e, x, state, edge_index, batch)
    want_e = torch.stack([conv.edge_mlp(torch.cat([x[i], x[j], e[k], state[batch[i]]]))
                          for k, (j, i) in enumerate(edge_index.T.tolist())])
    incoming = [torch.stack([want_e[k] for k in range(5) if edge_index[1, k] == i]).mean(0)
                for i in range(4)]
    want_x = torch.stack([conv.node_mlp(torch.cat([incoming[i], x[i], state[batch[i]]]))
                          for i in range(4)])
    graph_of_edge = batch[edge_index[1]]
    want_u = torch.stack([conv.state_mlp(torch.cat([want_e[graph_of_edge == g].mean(0),
                                                    want_x[batch == g].mean(0), state[g]]))
                          for g in range(2)])
    assert torch.allclose(got_e, want_e, atol=1e-6)
    assert torch.allclose(got_x, want_x, atol=1e-6)
    assert torch.allclose(got_u, want_u, atol=1e-6)


def test_block_adds_its_inputs_back():
    torch.manual_seed(0)
    block = MEGNetBlock(3, dense=(4,), conv_hidden=(5, 3))
    x, e, u = torch.randn(3, 3), torch.randn(4, 3), torch.randn(1, 3)
    edge_index, batch = torch.tensor([[1, 2, 0, 1], [0, 0, 1, 2]]), torch.zeros(3, dtype=torch.long)
    new = block(e, x, u, edge_index, batch)
    inner = block.conv(block.pre["edge"](e), block.pre["node"](x), block.pre["state"](u),
                       edge_index, batch)
    for got, old, delta in zip(new, (e, x, u), inner):
        assert torch.allclose(got, old + delta, atol=1e-6)
    with pytest.raises(ValueError, match="residual"):
        MEGNetBlock(4, conv_hidden=(5, 3))


def test_shapes_heads_state_and_repr(structures):
    torch.manual_seed(0)
    model = MEGNet(n_targets=2, **TINY)
    batch = _batch([crystal_graph(s) for s in structures])
    assert model(batch).shape == (3, 2)
    assert model.embed(batch).shape == (3, 5 * 6)
    assert len(model.heads) == 2
    assert model(crystal_graph(structures[0])).shape == (1, 2)  # one unbatched graph
    assert str(model) == "MEGNet(n_blocks=2, n_targets=2, node_input='atom_table', state_dim=2)"
    assert str(MEGNetBlock(32)) == "MEGNetBlock(32, dense=(64,))"
    assert str(MEGNetGraphConv(32)) == "MEGNetGraphConv(32, hidden=(64, 64, 32))"
    model.eval()
    with torch.no_grad():
        default = model(batch)
        batch.state = torch.zeros(3, 2)
        assert torch.equal(model(batch), default)  # no state given = zeros, as in the paper
        batch.state = torch.ones(3, 2)
        assert not torch.allclose(model(batch), default)
        batch.state = torch.ones(3, 3)
        with pytest.raises(ValueError, match="state"):
            model(batch)
    with pytest.raises(ValueError, match="node_input"):
        MEGNet(node_input="one_hot")


def test_dense_layers_start_glorot_uniform_with_zero_bias():
    torch.manual_seed(0)
    model = MEGNet()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) > 30
    for layer in linears:
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert torch.count_nonzero(layer.bias) == 0
        assert layer.weight.abs().max() <= bound
        # a uniform on [-bound, bound] has std bound / sqrt(3); PyTorch's default would be
        # bound_default = 1 / sqrt(fan_in), much smaller for square layers
        if layer.weight.numel() >= 1000:
            assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_atom_table_input_gives_equal_elements_equal_vectors():
    """Element vectors are a linear map of the chemical table: identical rows, identical
    vectors; the learned embedding has no such tie."""
    torch.manual_seed(0)
    table = np.zeros((95, 4), dtype=np.float32)
    table[1:] = np.random.default_rng(0).normal(size=(94, 4))
    table[30] = table[29]
    model = MEGNet(atom_features=table, **TINY)
    vectors = model._element_vectors(torch.tensor([29, 30, 31]))
    torch.testing.assert_close(vectors[0], vectors[1])
    assert not torch.allclose(vectors[0], vectors[2])
    free = MEGNet(node_input="embedding", **TINY)._element_vectors(torch.tensor([29, 30]))
    assert not torch.allclose(free[0], free[1])


def test_composition_state_fusion_shapes_and_use(mp_small):
    """u0 = D_u(standardized Magpie vector): width D in, the state changes the prediction."""
    import hybridlib as hl
    from hybridlib.models.fusion import composition_stats

    rows = mp_small[(mp_small["n_sites"] >= 3) & (mp_small["n_elements"] >= 2)].iloc[:3]
    comp = hl.features.featurize_frame(rows, "magpie", impute_nan=False)
    graphs = hl.graphs.graph_dataset(rows, comp=comp, cache=False)
    torch.manual_seed(0)
    model = MEGNet.with_composition_state(*composition_stats(graphs), **TINY).eval()
    batch = _batch(graphs)
    assert model.state_dim == 132 and model.state_encoder.dims[0] == 132
    assert model(batch).shape == (len(graphs), 1)
    assert model.embed(batch).shape == (len(graphs), 5 * 6)
    with torch.no_grad():
        before = model(batch)
        batch.comp = batch.comp.flip(0)
        assert not torch.allclose(model(batch), before)
        batch.comp = batch.comp[:, :10]
        with pytest.raises(ValueError, match="expects"):
            model(batch)


def _rotated(structure: Structure) -> Structure:
    rotation = Rotation.from_euler("xyz", (20.0, -35.0, 70.0), degrees=True).as_matrix()
    return Structure(Lattice(structure.lattice.matrix @ rotation.T), structure.species,
                     structure.frac_coords)


def _permuted(structure: Structure) -> Structure:
    order = np.random.default_rng(1).permutation(len(structure))
    return Structure(structure.lattice, [structure.species[i] for i in order],
                     structure.frac_coords[order])


def _translated(structure: Structure) -> Structure:
    return Structure(structure.lattice, structure.species,
                     (structure.frac_coords + [0.13, 0.52, 0.77]) % 1.0)


def test_invariant_to_atom_order_translation_and_rotation(structures):
    torch.manual_seed(0)
    model = MEGNet(n_targets=2, **TINY)
    for structure in structures:
        reference = _predict(model, structure)
        for changed in (_permuted(structure), _translated(structure), _rotated(structure)):
            assert torch.allclose(_predict(model, changed), reference, atol=1e-5)


def test_deterministic_with_a_seed(structures):
    batch = _batch([crystal_graph(s) for s in structures])
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = MEGNet(**TINY)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        for _ in range(3):
            optimizer.zero_grad()
            model(batch).abs().mean().backward()
            optimizer.step()
        outputs.append(model.eval()(batch).detach())
    assert torch.equal(outputs[0], outputs[1])


def test_rejects_unknown_elements(structures):
    graph = crystal_graph(structures[0])
    graph.z = graph.z.clone()
    graph.z[0] = 95
    with pytest.raises(ValueError, match="atomic numbers"):
        MEGNet(**TINY)(_batch([graph]))
