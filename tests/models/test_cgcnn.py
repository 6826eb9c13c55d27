"""Tests of hybridlib.models.cgcnn on real crystals of the shared sample."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pymatgen.core import Structure
from torch_geometric.data import Batch

import hybridlib as hl
from hybridlib.models import CGCNN


@pytest.fixture(scope="module")
def structures(mp_small):
    return list(mp_small["structure"][:6])


def _model(seed: int = 0, **kwargs) -> CGCNN:
    torch.manual_seed(seed)
    return CGCNN(hidden=16, n_conv=2, fc_hidden=24, **kwargs).eval()


def _predict(model, structures) -> torch.Tensor:
    with torch.no_grad():
        return model(Batch.from_data_list([hl.graphs.crystal_graph(s) for s in structures]))


def test_shapes_and_defaults(structures):
    model = _model(n_targets=2)
    batch = Batch.from_data_list([hl.graphs.crystal_graph(s) for s in structures])
    assert model(batch).shape == (len(structures), 2)
    assert model.embed(batch).shape == (len(structures), 16)
    assert model.atom_features.shape[1] == 92
    assert model.convs[0].dim == 41 and model.convs[0].bn is not None
    assert str(model) == "CGCNN(hidden=16, n_conv=2, fc_hidden=24, n_fc=1, n_targets=2)"


def test_invariant_to_atom_order(structures):
    model = _model()
    rng = np.random.default_rng(0)
    permuted = [Structure.from_sites([s[i] for i in rng.permutation(len(s))]) for s in structures]
    torch.testing.assert_close(_predict(model, permuted), _predict(model, structures),
                               rtol=1e-5, atol=1e-5)


def test_invariant_to_translation_of_the_cell_content(structures):
    model = _model()
    moved = []
    for s in structures:
        s = s.copy()
        s.translate_sites(list(range(len(s))), [0.31, -0.12, 0.57], frac_coords=True)
        moved.append(s)
    torch.testing.assert_close(_predict(model, moved), _predict(model, structures),
                               rtol=1e-4, atol=1e-4)


def test_intensive_under_supercell(structures):
    model = _model()
    supercells = [s * (2, 1, 1) for s in structures[:3]]
    torch.testing.assert_close(_predict(model, supercells), _predict(model, structures[:3]),
                               rtol=1e-4, atol=1e-4)


def test_prediction_does_not_depend_on_batch_mates(structures):
    model = _model()
    together = _predict(model, structures)
    alone = torch.cat([_predict(model, [s]) for s in structures])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_convolution_is_eq5_of_the_paper_with_batch_norm(structures):
    model = _model()
    for layer in model.convs:  # non-trivial running statistics and affine parameters
        layer.bn.running_mean.uniform_(-0.5, 0.5)
        layer.bn.running_var.uniform_(0.5, 2.0)
        layer.bn.weight.data.uniform_(0.5, 1.5)
        layer.bn.bias.data.uniform_(-0.2, 0.2)
    graph = hl.graphs.crystal_graph(structures[0])
    conv = model.convs[0]
    v = model.embedding(model.atom_features[graph.z])
    u = model.expansion(graph.edge_dist)
    src, dst = graph.edge_index
    z = torch.cat([v[dst], v[src], u], dim=1)
    messages = torch.sigmoid(conv.lin_f(z)) * F.softplus(conv.lin_s(z))
    summed = torch.zeros_like(v).index_add_(0, dst, messages)
    bn = conv.bn
    expected = v + (summed - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * \
        bn.weight + bn.bias
    with torch.no_grad():
        torch.testing.assert_close(conv(v, graph.edge_index, u), expected, rtol=1e-5,
                                   atol=1e-5)


def test_same_seed_same_model_and_unknown_element_raises(structures):
    graph = hl.graphs.crystal_graph(structures[0])
    torch.testing.assert_close(_predict(_model(3), structures[:1]),
                               _predict(_model(3), structures[:1]))
    assert not torch.equal(_predict(_model(3), structures[:1]), _predict(_model(4), structures[:1]))
    small_table = np.ones((10, 4))
    with pytest.raises(ValueError, match="no atom features"):
        _model(atom_features=small_table)(Batch.from_data_list([graph]))
    with pytest.raises(ValueError, match="finite 2-D"):
        CGCNN(atom_features=np.full((5, 3), np.nan))


def test_factorized_conv_equals_pyg_cgconv_in_outputs_and_gradients(structures):
    """Same state dict in both layers -> the same outputs and gradients (float64)."""
    from torch_geometric.nn import CGConv

    from hybridlib.models.cgcnn import FactorizedCGConv

    batch = Batch.from_data_list([hl.graphs.crystal_graph(s) for s in structures])
    torch.manual_seed(0)
    reference = CGConv(8, 41, aggr="add", batch_norm=True).double()
    ours = FactorizedCGConv(8, 41).double()
    ours.load_state_dict(reference.state_dict())  # same names and shapes
    edge_attr = hl.models.layers.GaussianExpansion()(batch.edge_dist.double())
    results = []
    for layer in (reference, ours):
        x = torch.randn(batch.num_nodes, 8, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(1)).requires_grad_()
        out = layer(x, batch.edge_index, edge_attr)
        grads = torch.autograd.grad((out * out.detach().sin()).sum(), [x, *layer.parameters()])
        results.append((out, grads))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-12, atol=1e-12)
    for got, want in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    assert str(ours) == "FactorizedCGConv(8, dim=41)"
    with pytest.raises(ValueError, match="expected 8 node and 41 edge"):
        ours(torch.zeros(3, 5, dtype=torch.float64), batch.edge_index, edge_attr)


@pytest.mark.parametrize("source", ["published", "computed"])
def test_atom_table_rows_are_unique_except_documented_pairs(source):
    """Z = 1..94 of the models' default table: only the documented pairs share a row; the
    computed table (an option) merges whole groups of lanthanides and actinides."""
    from pymatgen.core import Element

    from hybridlib.features.atoms import MODEL_ATOM_FEATURES, PUBLISHED_DUPLICATE_ROWS

    table = (hl.models.cgcnn.atom_feature_table() if source == MODEL_ATOM_FEATURES
             else hl.models.cgcnn.atom_feature_table(source)).numpy()
    groups: dict[bytes, list[str]] = {}
    for z in range(1, 95):
        assert table[z].any(), Element.from_Z(z)
        groups.setdefault(table[z].tobytes(), []).append(Element.from_Z(z).symbol)
    shared = sorted(tuple(g) for g in groups.values() if len(g) > 1)
    if source == "published":
        assert MODEL_ATOM_FEATURES == "published"
        assert shared == sorted(PUBLISHED_DUPLICATE_ROWS)
        torch.testing.assert_close(CGCNN().atom_features, torch.as_tensor(table))
    else:
        assert ("Ce", "Nd", "Pm", "Sm", "Gd", "Tb") in shared and len(shared) == 4
