r"""ALIGNN in PyTorch + PyG (no DGL), and the seed chapter's simplified variant.

* :class:`ALIGNN` is the Atomistic Line Graph Neural Network of Choudhary & DeCost (2021):
  edge-gated graph convolutions (Bresson & Laurent 2017) alternate between the line graph
  (bonds as nodes, bond angles as edges) and the atom graph, then plain edge-gated layers
  run on the atom graph alone, followed by average pooling and a linear head.
* :class:`ALIGNNSimple` is the seed's "ALIGNN simplified" model (section 5.4): residual
  message passing on the atom graph only. It is kept because the chapter contrasts it with
  the full model: it never sees a bond angle.

Both read the crystal-graph contract of :mod:`hybridlib.graphs` (``z``, ``edge_index``
with row 0 = neighbour ``j`` and row 1 = centre ``i``, ``edge_dist``; ALIGNN also
``lg_edge_index`` and ``angle_cos``) and return standardized targets ``(B, T)``.
Introduced in: chapter 5.4.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.nn import MessagePassing, global_mean_pool
from torch_geometric.utils import scatter

from ..config import Profile, resolve_profile
from .layers import AngleExpansion, DistinctValueEmbedding, GaussianExpansion, RBFExpansion
from .cgcnn import atom_feature_table, check_atomic_numbers

__all__ = [
    "LinearBNSiLU", "EdgeGatedGraphConv", "ALIGNNLayer", "ALIGNN",
    "ALIGNNConvSimple", "ALIGNNSimple", "node_batch",
]

LayerOrder = Literal["line_first", "atom_first"]


class LinearBNSiLU(nn.Sequential):
    """``Linear -> BatchNorm1d -> SiLU``: ALIGNN's ``MLPLayer`` (embeddings of atoms, bonds, angles).

    Shapes:
        :math:`(M, F_{in})` -> :math:`(M, F_{out})`.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(nn.Linear(in_features, out_features), nn.BatchNorm1d(out_features),
                         nn.SiLU())
        self.in_features, self.out_features = in_features, out_features

    def reset_parameters(self) -> None:
        self[0].reset_parameters()
        self[1].reset_parameters()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_features}, {self.out_features})"


class EdgeGatedGraphConv(MessagePassing):
    r"""Edge-gated graph convolution of ALIGNN (Choudhary & DeCost, npj Comput. Mater. 7, 185,
    2021), with the gating of Bresson & Laurent (arXiv:1711.07553).

    .. math::
        \hat e_{ij} &= A x_i + B x_j + C e_{ij}, \qquad
        \eta_{ij} = \frac{\sigma(\hat e_{ij})}{\sum_{k \in \mathcal N(i)} \sigma(\hat e_{ik})
        + \epsilon} \\
        x_i' &= x_i + \mathrm{SiLU}\Big(\mathrm{BN}\big(U x_i
            + \textstyle\sum_{j \in \mathcal N(i)} \eta_{ij} \odot V x_j\big)\Big), \qquad
        e_{ij}' = e_{ij} + \mathrm{SiLU}\big(\mathrm{BN}(\hat e_{ij})\big)

    where :math:`i` is the target (row 1 of ``edge_index``), :math:`j` the source,
    :math:`\sigma` the sigmoid and :math:`A, B, C, U, V` linear maps with bias. The gate is
    a normalised, per-channel soft attention over the neighbours of :math:`i`. On the line
    graph the "nodes" are bonds and the "edges" bond pairs (angles).

    Args:
        channels (int): node and edge feature size :math:`F`.
        eps (float, optional): offset of the gate denominator. (default: ``1e-6``)
        residual (bool, optional): add the inputs to the outputs. (default: ``True``)
        **kwargs: passed to :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        x :math:`(N, F)`, edge_index :math:`(2, E)`, edge_attr :math:`(E, F)`
        -> (x' :math:`(N, F)`, edge_attr' :math:`(E, F)`).
    """

    CITATION_KEYS = ("choudhary2021alignn", "bresson2017gated")

    def __init__(self, channels: int, eps: float = 1e-6, residual: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.channels, self.eps, self.residual = channels, eps, residual
        # A (target gate), B (source gate), U (self update), V (neighbour value) in one matmul.
        self.node_linear = nn.Linear(channels, 4 * channels)
        self.edge_gate = nn.Linear(channels, channels)  # C
        self.bn_nodes = nn.BatchNorm1d(channels)
        self.bn_edges = nn.BatchNorm1d(channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        # Each of A, B, U, V is initialised like its own nn.Linear(channels, channels).
        for block in self.node_linear.weight.data.view(4, self.channels, self.channels):
            nn.init.kaiming_uniform_(block, a=5 ** 0.5)
        bound = 1.0 / self.channels ** 0.5
        nn.init.uniform_(self.node_linear.bias, -bound, bound)
        for module in (self.edge_gate, self.bn_nodes, self.bn_edges):
            module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        if x.size(-1) != self.channels or edge_attr.size(-1) != self.channels:
            raise ValueError(f"{self}: expected {self.channels} node and edge channels, got "
                             f"{x.size(-1)} and {edge_attr.size(-1)}")
        if edge_index.size(1) != edge_attr.size(0):
            raise ValueError(f"{self}: {edge_index.size(1)} edges but {edge_attr.size(0)} "
                             f"edge feature rows")
        gate_target, gate_source, update_self, value = self.node_linear(x).chunk(4, dim=-1)
        # C's bias is added per node (N rows) rather than per edge (E rows): same sum, fewer
        # passes over the largest tensors (on the line graph, E is ~13 times N).
        gate_logits = self.edge_updater(edge_index, a=gate_target + self.edge_gate.bias,
                                        b=gate_source, e=edge_attr)
        gate = torch.sigmoid(gate_logits)
        weighted = self.propagate(edge_index, v=value, gate=gate)
        norm = scatter(gate, edge_index[1], dim=0, dim_size=x.size(0), reduce="sum")
        x_new = F.silu(self.bn_nodes(update_self + weighted / (norm + self.eps)))
        e_new = F.silu(self.bn_edges(gate_logits))
        if self.residual:
            return x + x_new, edge_attr + e_new
        return x_new, e_new

    def edge_update(self, a_i: Tensor, b_j: Tensor, e: Tensor) -> Tensor:
        return torch.addmm(a_i + b_j, e, self.edge_gate.weight.t())

    def message(self, v_j: Tensor, gate: Tensor) -> Tensor:
        return gate * v_j

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, eps={self.eps}, "
                f"residual={self.residual})")


class ALIGNNLayer(nn.Module):
    r"""One ALIGNN layer: an edge-gated convolution on the line graph, then on the atom graph.

    .. math::
        (m, z') = \mathrm{EGGC}_{L(G)}(y, z), \qquad (x', y') = \mathrm{EGGC}_G(x, m)

    where :math:`x` are atom, :math:`y` bond and :math:`z` angle (bond-pair) features
    (Choudhary & DeCost 2021, Fig. 1). The bond features updated on the line graph carry the
    angle information into the atom-graph convolution. ``order="atom_first"`` runs the two
    convolutions the other way round, as the current official code (``ALIGNNConv``) does.

    Args:
        channels (int): width :math:`F` of atom, bond and angle features.
        order (str, optional): ``"line_first"`` (the paper) or ``"atom_first"``.
            (default: ``"line_first"``)

    Shapes:
        x :math:`(N, F)`, y :math:`(E, F)`, z :math:`(T, F)`, edge_index :math:`(2, E)`,
        lg_edge_index :math:`(2, T)` -> (x', y', z') of the same shapes.
    """

    CITATION_KEYS = ("choudhary2021alignn",)

    def __init__(self, channels: int, order: LayerOrder = "line_first") -> None:
        super().__init__()
        if order not in ("line_first", "atom_first"):
            raise ValueError(f"order must be 'line_first' or 'atom_first', got {order!r}")
        self.channels, self.order = channels, order
        self.atom_conv = EdgeGatedGraphConv(channels)
        self.line_conv = EdgeGatedGraphConv(channels)

    def reset_parameters(self) -> None:
        self.atom_conv.reset_parameters()
        self.line_conv.reset_parameters()

    def forward(self, x: Tensor, y: Tensor, z: Tensor, edge_index: Tensor,
                lg_edge_index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.order == "line_first":
            y, z = self.line_conv(y, lg_edge_index, z)
            x, y = self.atom_conv(x, edge_index, y)
        else:
            x, y = self.atom_conv(x, edge_index, y)
            y, z = self.line_conv(y, lg_edge_index, z)
        return x, y, z

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, order={self.order!r})"


def node_batch(batch) -> tuple[Tensor, int]:
    """The graph index of every atom and the number of graphs, for a batch or one graph."""
    vector = getattr(batch, "batch", None)
    if vector is None:
        return batch.z.new_zeros(batch.z.size(0)), 1
    return vector, int(batch.num_graphs)


class ALIGNN(nn.Module):
    r"""Atomistic Line Graph Neural Network (Choudhary & DeCost, npj Comput. Mater. 7, 185, 2021).

    .. math::
        x^{(0)} = \mathrm{MLP}(a_{Z}), \quad y^{(0)} = \mathrm{MLP}(\mathrm{RBF}(d_{ij})),
        \quad z^{(0)} = \mathrm{MLP}(\mathrm{RBF}(\cos\theta_{ijk})) \\
        (x, y, z) \leftarrow \mathrm{ALIGNNLayer}(x, y, z) \ (\times L_a), \qquad
        (x, y) \leftarrow \mathrm{EGGC}_G(x, y) \ (\times L_g), \qquad
        \hat{\mathbf y} = W \tfrac{1}{N}\textstyle\sum_i x_i + b

    where :math:`a_Z` are CGCNN's 92 atom features, the bond RBF has 80 bins on 0–8 Å and the
    angle RBF 40 bins on [-1, 1] (bond-angle cosines from ``angle_cos``). Every embedding
    MLP is ``Linear -> BatchNorm -> SiLU``; atoms go straight to ``hidden``, bonds and angles
    through ``embedding`` first. Defaults are the paper's / official config
    (``alignn/models/alignn.py`` ``ALIGNNConfig``): 4 ALIGNN layers, 4 edge-gated layers,
    hidden 256, embedding 64, bond RBF 80, angle RBF 40: 4,026,753 parameters, as many as
    the official implementation (``alignn_atomwise_pure``; :mod:`tools.bench.reference`).

    Args:
        n_targets (int, optional): outputs :math:`T`. (default: ``1``)
        hidden (int, optional): width of atom, bond and angle features. (default: ``256``)
        embedding (int, optional): first width of the bond/angle embeddings. (default: ``64``)
        alignn_layers (int, optional): ALIGNN layers :math:`L_a`. (default: ``4``)
        gcn_layers (int, optional): atom-graph-only edge-gated layers :math:`L_g`. (default: ``4``)
        edge_input (int, optional): bond-length RBF bins. (default: ``80``)
        triplet_input (int, optional): angle-cosine RBF bins. (default: ``40``)
        cutoff (float, optional): last bond RBF centre, Å. (default: ``8.0``)
        order (str, optional): order inside each :class:`ALIGNNLayer`. (default: ``"line_first"``)
        atom_features (array, optional): element feature table ``(max_Z + 1, D)``; default CGCNN's.

    Shapes:
        batch with ``z`` :math:`(N,)`, ``edge_index`` :math:`(2, E)`, ``edge_dist`` :math:`(E,)`,
        ``lg_edge_index`` :math:`(2, T)`, ``angle_cos`` :math:`(T,)`, ``batch`` :math:`(N,)`
        -> :math:`(B, T_{out})`; :meth:`embed` -> :math:`(B, F)`.
    """

    CITATION_KEYS = ("choudhary2021alignn", "bresson2017gated", "xie2018cgcnn")

    def __init__(self, n_targets: int = 1, *, hidden: int = 256, embedding: int = 64,
                 alignn_layers: int = 4, gcn_layers: int = 4, edge_input: int = 80,
                 triplet_input: int = 40, cutoff: float = 8.0, order: LayerOrder = "line_first",
                 atom_features: np.ndarray | Tensor | None = None) -> None:
        super().__init__()
        if n_targets < 1 or hidden < 1 or alignn_layers < 0 or gcn_layers < 0:
            raise ValueError(f"bad ALIGNN sizes: n_targets={n_targets}, hidden={hidden}, "
                             f"alignn_layers={alignn_layers}, gcn_layers={gcn_layers}")
        self.n_targets, self.hidden, self.embedding = n_targets, hidden, embedding
        self.n_alignn, self.n_gcn, self.order = alignn_layers, gcn_layers, order
        self.register_buffer("atom_table", atom_feature_table(atom_features))
        self.atom_embedding = LinearBNSiLU(self.atom_table.shape[1], hidden)
        # bond lengths and angle cosines repeat (symmetry): each distinct value is embedded once
        self.edge_embedding = DistinctValueEmbedding(
            RBFExpansion(0.0, cutoff, edge_input),
            LinearBNSiLU(edge_input, embedding), LinearBNSiLU(embedding, hidden))
        self.angle_embedding = DistinctValueEmbedding(
            AngleExpansion(triplet_input),
            LinearBNSiLU(triplet_input, embedding), LinearBNSiLU(embedding, hidden))
        self.alignn_layers = nn.ModuleList(ALIGNNLayer(hidden, order) for _ in range(alignn_layers))
        self.gcn_layers = nn.ModuleList(EdgeGatedGraphConv(hidden) for _ in range(gcn_layers))
        self.head = nn.Linear(hidden, n_targets)

    @classmethod
    def from_profile(cls, profile: Profile | str | None = None, n_targets: int = 1,
                     **overrides) -> "ALIGNN":
        """ALIGNN sized by a profile (``hidden``, ``alignn_layers``, ``gcn_layers``)."""
        profile = resolve_profile(profile)
        sizes = dict(hidden=profile.model.hidden, alignn_layers=profile.model.alignn_layers,
                     gcn_layers=profile.model.gcn_layers)
        return cls(n_targets, **{**sizes, **overrides})

    def reset_parameters(self) -> None:
        for module in (self.atom_embedding, *self.edge_embedding[1:], *self.angle_embedding[1:],
                       *self.alignn_layers, *self.gcn_layers, self.head):
            module.reset_parameters()

    def embed(self, batch) -> Tensor:
        """Mean-pooled atom features after all layers, :math:`(B, F)`."""
        check_atomic_numbers(batch.z, self.atom_table)
        x = self.atom_embedding(self.atom_table[batch.z])
        y = self.edge_embedding(batch.edge_dist)
        if self.n_alignn:
            if getattr(batch, "lg_edge_index", None) is None or getattr(batch, "angle_cos", None) is None:
                raise ValueError("ALIGNN needs the line graph: build the graphs with "
                                 "line_graph=True (fields lg_edge_index and angle_cos)")
            z = self.angle_embedding(batch.angle_cos)
            for layer in self.alignn_layers:
                x, y, z = layer(x, y, z, batch.edge_index, batch.lg_edge_index)
        for layer in self.gcn_layers:
            x, y = layer(x, batch.edge_index, y)
        index, n_graphs = node_batch(batch)
        return global_mean_pool(x, index, size=n_graphs)

    def forward(self, batch) -> Tensor:
        return self.head(self.embed(batch))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(hidden={self.hidden}, alignn_layers={self.n_alignn}, "
                f"gcn_layers={self.n_gcn}, n_targets={self.n_targets}, order={self.order!r})")


class ALIGNNConvSimple(MessagePassing):
    r"""The seed's simplified "ALIGNN" convolution: an MLP message on the atom graph.

    .. math::
        m_i = \sum_{j \in \mathcal N(i)} \mathrm{MLP}_m\big([x_i \Vert x_j \Vert e_{ij}]\big),
        \qquad x_i' = \mathrm{MLP}_u\big([x_i \Vert m_i]\big)

    where each MLP is ``Linear -> Softplus -> Linear``. Bond angles never enter: this is a
    plain message-passing layer, not ALIGNN's line-graph update.

    Args:
        channels (int): node feature size :math:`F`.
        edge_dim (int): edge feature size :math:`D`.

    Shapes:
        x :math:`(N, F)`, edge_index :math:`(2, E)`, edge_attr :math:`(E, D)` -> :math:`(N, F)`.
    """

    def __init__(self, channels: int, edge_dim: int, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.channels, self.edge_dim = channels, edge_dim
        self.message_mlp = nn.Sequential(nn.Linear(2 * channels + edge_dim, channels),
                                         nn.Softplus(), nn.Linear(channels, channels))
        self.update_mlp = nn.Sequential(nn.Linear(2 * channels, channels), nn.Softplus(),
                                        nn.Linear(channels, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for mlp in (self.message_mlp, self.update_mlp):
            mlp[0].reset_parameters()
            mlp[2].reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        return self.propagate(edge_index, x=x, edge_attr=edge_attr)

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        return self.message_mlp(torch.cat([x_i, x_j, edge_attr], dim=-1))

    def update(self, aggr_out: Tensor, x: Tensor) -> Tensor:
        return self.update_mlp(torch.cat([x, aggr_out], dim=-1))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, edge_dim={self.edge_dim})"


class ALIGNNSimple(nn.Module):
    r"""The seed's "ALIGNN (simplified)" model: residual message passing on the atom graph only.

    .. math::
        x^{(0)} = W_0 a_Z, \qquad x^{(l+1)} = \mathrm{Softplus}\big(\mathrm{BN}(
        \mathrm{ALIGNNConvSimple}(x^{(l)})) + x^{(l)}\big), \qquad
        \hat{\mathbf y} = W_2\,\mathrm{Softplus}\big(W_1 \tfrac1N\textstyle\sum_i x_i\big)

    with CGCNN's 92 atom features :math:`a_Z` and CGCNN's 41-Gaussian bond expansion
    (0–8 Å, step 0.2 Å). Kept to contrast with :class:`ALIGNN`: no line graph, no angles.

    Args:
        n_targets (int, optional): outputs. (default: ``1``)
        hidden (int, optional): node width (the seed: 128). (default: ``128``)
        n_conv (int, optional): message-passing layers (the seed: 3). (default: ``3``)
        fc_hidden (int, optional): width of the head's hidden layer. (default: ``64``)
        atom_features (array, optional): element feature table; default CGCNN's.

    Shapes:
        batch (``z``, ``edge_index``, ``edge_dist``, ``batch``) -> :math:`(B, T)`;
        :meth:`embed` -> :math:`(B, F)`.
    """

    CITATION_KEYS = ("choudhary2021alignn", "xie2018cgcnn")

    def __init__(self, n_targets: int = 1, *, hidden: int = 128, n_conv: int = 3,
                 fc_hidden: int = 64, atom_features: np.ndarray | Tensor | None = None) -> None:
        super().__init__()
        self.n_targets, self.hidden, self.n_conv = n_targets, hidden, n_conv
        self.register_buffer("atom_table", atom_feature_table(atom_features))
        self.distance_expansion = GaussianExpansion()
        edge_dim = self.distance_expansion.out_features
        self.atom_embedding = nn.Linear(self.atom_table.shape[1], hidden)
        self.convs = nn.ModuleList(ALIGNNConvSimple(hidden, edge_dim) for _ in range(n_conv))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(n_conv))
        self.fc1 = nn.Linear(hidden, fc_hidden)
        self.fc2 = nn.Linear(fc_hidden, n_targets)

    @classmethod
    def from_profile(cls, profile: Profile | str | None = None, n_targets: int = 1,
                     **overrides) -> "ALIGNNSimple":
        """Sized by a profile (``hidden``, ``n_conv``)."""
        profile = resolve_profile(profile)
        return cls(n_targets, **{"hidden": profile.model.hidden, "n_conv": profile.model.n_conv,
                                **overrides})

    def reset_parameters(self) -> None:
        for module in (self.atom_embedding, *self.convs, *self.norms, self.fc1, self.fc2):
            module.reset_parameters()

    def embed(self, batch) -> Tensor:
        """Mean-pooled atom features after the residual layers, :math:`(B, F)`."""
        check_atomic_numbers(batch.z, self.atom_table)
        x = self.atom_embedding(self.atom_table[batch.z])
        edge_attr = self.distance_expansion(batch.edge_dist)
        for conv, norm in zip(self.convs, self.norms):
            x = F.softplus(norm(conv(x, batch.edge_index, edge_attr)) + x)
        index, n_graphs = node_batch(batch)
        return global_mean_pool(x, index, size=n_graphs)

    def forward(self, batch) -> Tensor:
        return self.fc2(F.softplus(self.fc1(self.embed(batch))))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(hidden={self.hidden}, n_conv={self.n_conv}, "
                f"n_targets={self.n_targets})")
