r"""MEGNet (Chen, Ye, Zuo, Zheng & Ong, Chem. Mater. 31, 3564, 2019) in PyTorch + PyG.

A MEGNet block updates bonds, then atoms, then a global state vector ``u``, each with an
MLP that sees the other two (a graph network in the sense of Battaglia et al. 2018),
wrapped in dense pre-layers and a residual connection. Bonds and atoms are read out with
Set2Set and joined with ``u``. :class:`MEGNet` keeps one output MLP per target on a shared
trunk, so the same class is the single-task model and the multitask model of chapter 5.5.
Its atoms start from CGCNN's chemical atom table (or, as an ablation, a learned element
embedding); its global state can carry the material's composition features
(:meth:`MEGNet.with_composition_state`: intermediate fusion of composition and structure).
Every dense layer starts from Glorot (Xavier) uniform weights and zero biases, as in the
original Keras MEGNet and matgl's training scripts.
Introduced in: chapter 5.5.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.aggr import Set2Set
from torch_geometric.utils import scatter

from ..config import Profile, resolve_profile
from .alignn import node_batch
from .cgcnn import atom_feature_table
from .layers import RadialBasisExpansion

__all__ = ["SoftPlus2", "DenseStack", "MEGNetGraphConv", "MEGNetBlock", "MEGNet", "NODE_INPUTS", "glorot_"]


def glorot_(layer: nn.Linear) -> None:
    """Glorot (Xavier) uniform weights and zero bias, in place."""
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class SoftPlus2(nn.Module):
    r""":math:`\mathrm{SoftPlus2}(x) = \ln(1 + e^x) - \ln 2`, MEGNet's activation (zero at
    zero); PyG's ``ShiftedSoftplus``, with the shift subtracted in place."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = math.log(2.0)

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x).sub_(self.shift)


class DenseStack(nn.Sequential):
    r"""Dense layers, each ``Linear -> SoftPlus2`` with :math:`\mathrm{SoftPlus2}(x) =
    \ln(1 + e^x) - \ln 2` (MEGNet's activation, zero at zero).

    Weights start Glorot (Xavier) uniform, biases zero (Keras MEGNet, matgl).

    Args:
        dims: layer widths ``(in, h_1, ..., out)``.
        activate_last: apply the activation after the last layer too. (default: ``True``)

    Shapes:
        :math:`(M, d_0)` -> :math:`(M, d_{-1})`.
    """

    def __init__(self, dims: Sequence[int], activate_last: bool = True) -> None:
        if len(dims) < 2:
            raise ValueError(f"DenseStack needs at least (in, out) widths, got {tuple(dims)}")
        layers: list[nn.Module] = []
        for k, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if activate_last or k < len(dims) - 2:
                layers.append(SoftPlus2())
        super().__init__(*layers)
        self.dims = tuple(int(d) for d in dims)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self:
            if isinstance(layer, nn.Linear):
                glorot_(layer)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({' -> '.join(map(str, self.dims))})"


class MEGNetGraphConv(nn.Module):
    r"""The MEGNet graph-network update: bonds, then atoms, then the global state.

    .. math::
        e_{ij}' &= \phi_e\big([v_i \Vert v_j \Vert e_{ij} \Vert u]\big) \\
        v_i' &= \phi_v\big([\bar e_i' \Vert v_i \Vert u]\big), \quad
            \bar e_i' = \tfrac{1}{|\mathcal N(i)|}\textstyle\sum_{j} e_{ij}' \\
        u' &= \phi_u\big([\bar e' \Vert \bar v' \Vert u]\big)

    where :math:`i` is the centre atom (row 1 of ``edge_index``), :math:`j` its neighbour,
    :math:`\bar e'` and :math:`\bar v'` are the means over the crystal's bonds and atoms, and
    each :math:`\phi` is a :class:`DenseStack` (Chen et al. 2019, Eqs. 1–3).

    The first layer of :math:`\phi_e` multiplies each part of the concatenation by its own
    block of the weight matrix, the atom parts once per atom and the state part once per
    crystal, and gathers them onto the bonds: the same numbers as multiplying the
    concatenation, with only the bond part computed on :math:`E` rows.

    Args:
        channels (int): width :math:`F` of bond, atom and state inputs.
        hidden (sequence of int): widths of each :math:`\phi` (the paper: 64, 64, 32).

    Shapes:
        edge_attr :math:`(E, F)`, x :math:`(N, F)`, state :math:`(B, F)`, edge_index
        :math:`(2, E)`, batch :math:`(N,)` -> (edge_attr', x', state') with width ``hidden[-1]``.
    """

    CITATION_KEYS = ("chen2019megnet",)

    def __init__(self, channels: int, hidden: Sequence[int] = (64, 64, 32)) -> None:
        super().__init__()
        self.channels, self.hidden = channels, tuple(hidden)
        out = self.hidden[-1]
        self.edge_mlp = DenseStack((4 * channels, *self.hidden))
        self.node_mlp = DenseStack((out + 2 * channels, *self.hidden))
        self.state_mlp = DenseStack((2 * out + channels, *self.hidden))

    def reset_parameters(self) -> None:
        for mlp in (self.edge_mlp, self.node_mlp, self.state_mlp):
            mlp.reset_parameters()

    def _edge_update(self, edge_attr: Tensor, x: Tensor, state: Tensor, source: Tensor,
                     target: Tensor, edge_batch: Tensor) -> Tensor:
        """``edge_mlp([x_target || x_source || e || u])`` with the first layer factorized."""
        first, c = self.edge_mlp[0], self.channels
        weight = first.weight  # (H, 4F): blocks for x_target, x_source, e, u
        at_target, at_source = (x @ torch.cat([weight[:, :c], weight[:, c:2 * c]]).t()
                                ).chunk(2, dim=-1)
        at_state = torch.addmm(first.bias, state, weight[:, 3 * c:].t())
        gathered = (at_target.index_select(0, target) + at_source.index_select(0, source)
                    + at_state.index_select(0, edge_batch))
        hidden = torch.addmm(gathered,
                             edge_attr, weight[:, 2 * c:3 * c].t())
        for layer in list(self.edge_mlp)[1:]:
            hidden = layer(hidden)
        return hidden

    def forward(self, edge_attr: Tensor, x: Tensor, state: Tensor, edge_index: Tensor,
                batch: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        source, target = edge_index
        n_graphs = state.size(0)
        edge_batch = batch.index_select(0, target)
        edge_attr = self._edge_update(edge_attr, x, state, source, target, edge_batch)
        incoming = scatter(edge_attr, target, dim=0, dim_size=x.size(0), reduce="mean")
        x = self.node_mlp(torch.cat([incoming, x, state.index_select(0, batch)], dim=-1))
        state = self.state_mlp(torch.cat([
            scatter(edge_attr, edge_batch, dim=0, dim_size=n_graphs, reduce="mean"),
            scatter(x, batch, dim=0, dim_size=n_graphs, reduce="mean"), state], dim=-1))
        return edge_attr, x, state

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, hidden={self.hidden})"


class MEGNetBlock(nn.Module):
    r"""A MEGNet block: dense pre-layers on bonds, atoms and state, the graph-network update,
    and a residual connection around both.

    .. math::
        (e, v, u) \leftarrow (e, v, u) + \mathrm{GN}\big(D_e(e), D_v(v), D_u(u)\big)

    The first block of the model has no pre-layers (its inputs already come out of the
    encoders), as in the paper's Fig. 1 and matgl.

    Args:
        channels (int): width of the block's inputs and outputs.
        dense (sequence of int): hidden widths of the pre-layers ``D``; empty: none.
        conv_hidden (sequence of int): widths of :class:`MEGNetGraphConv`'s MLPs; the last
            one must equal ``channels`` for the residual connection.

    Shapes:
        as :class:`MEGNetGraphConv`, widths unchanged.
    """

    CITATION_KEYS = ("chen2019megnet",)

    def __init__(self, channels: int, dense: Sequence[int] = (64,),
                 conv_hidden: Sequence[int] = (64, 64, 32)) -> None:
        super().__init__()
        if conv_hidden[-1] != channels:
            raise ValueError(f"the residual needs conv_hidden[-1] == channels, got "
                             f"{conv_hidden[-1]} and {channels}")
        self.channels, self.dense = channels, tuple(dense)
        if self.dense:
            dims = (channels, *self.dense, channels)
            self.pre = nn.ModuleDict({k: DenseStack(dims) for k in ("edge", "node", "state")})
        else:
            self.pre = None
        self.conv = MEGNetGraphConv(channels, conv_hidden)

    def reset_parameters(self) -> None:
        if self.pre is not None:
            for mlp in self.pre.values():
                mlp.reset_parameters()
        self.conv.reset_parameters()

    def forward(self, edge_attr: Tensor, x: Tensor, state: Tensor, edge_index: Tensor,
                batch: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        inputs = (edge_attr, x, state)
        if self.pre is not None:
            edge_attr = self.pre["edge"](edge_attr)
            x = self.pre["node"](x)
            state = self.pre["state"](state)
        updated = self.conv(edge_attr, x, state, edge_index, batch)
        return tuple(new + old for new, old in zip(updated, inputs))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, dense={self.dense})"


NODE_INPUTS = ("atom_table", "embedding")


class MEGNet(nn.Module):
    r"""MEGNet (Chen et al., Chem. Mater. 31, 3564, 2019) with one output MLP per target.

    .. math::
        v^{(0)} = D_v(W_a\, a_Z), \quad e^{(0)} = D_e(\mathrm{RBF}(d_{ij})), \quad
        u^{(0)} = D_u(u_{\mathrm{in}}) \\
        (e, v, u) \leftarrow \mathrm{MEGNetBlock}(e, v, u) \ (\times L), \qquad
        \hat y_t = \mathrm{MLP}_t\big([\mathrm{S2S}(v) \Vert \mathrm{S2S}(e) \Vert u]\big)

    Sizes follow the paper and matgl's ``MEGNet``: 16-dim element vectors, 100 Gaussians for
    the bond length, a 2-dim global state input, encoders 64-32, three blocks (64-64-32
    update MLPs, 64-32 pre-layers), Set2Set with 2 steps and one LSTM layer, output MLP
    32-16-1, SoftPlus2 activations.

    Choices of this implementation:

    * **Element vectors** (``node_input``): ``"atom_table"`` (default) maps CGCNN's 92
      chemical descriptors :math:`a_Z` (:func:`hybridlib.features.cgcnn_atom_features`)
      through a linear layer :math:`W_a` to 16 numbers, so chemically similar elements
      start close together, as in CGCNN and ALIGNN; ``"embedding"`` learns a free 16-dim
      vector per element from scratch (the paper's choice; on a few thousand crystals its
      rare elements are barely trained).
    * **Initialisation**: Glorot (Xavier) uniform weights and zero biases in every dense
      layer (the original Keras code and matgl's training scripts).
    * The global state input is ``state_input(batch)`` when a module is given (e.g. the
      standardized composition features, :meth:`with_composition_state`), else
      ``batch.state`` ``(B, state_dim)`` when the graphs carry one, else zeros of width 2
      (the paper's and matgl's default ``[0, 0]`` for crystals).
    * Bonds are the graphs of :mod:`hybridlib.graphs` (12 nearest neighbours within 8 Å),
      one directed edge per (neighbour, centre), rather than MEGNet's all-pairs radius
      graph (4–5 Å); the Gaussian centres therefore span 0–``cutoff`` = 8 Å, with the paper's
      width :math:`\sigma = 0.5` Å (:math:`e_k = \exp(-(d - \mu_k)^2/\sigma^2)`).
    * Each target has its own output MLP (hard parameter sharing); with one target the
      model is the paper's.

    Args:
        n_targets (int, optional): number of targets / output MLPs. (default: ``1``)
        node_input (str, optional): ``"atom_table"`` or ``"embedding"``. (default:
            ``"atom_table"``)
        node_embedding (int, optional): element vector width. (default: ``16``)
        edge_bins (int, optional): Gaussian centres for bond lengths. (default: ``100``)
        state_dim (int, optional): global state input width. (default: ``2``)
        n_blocks (int, optional): MEGNet blocks. (default: ``3``)
        dense (sequence, optional): encoder / pre-layer widths. (default: ``(64, 32)``)
        conv_hidden (sequence, optional): update-MLP widths. (default: ``(64, 64, 32)``)
        output_hidden (sequence, optional): output-MLP hidden widths. (default: ``(32, 16)``)
        set2set_steps (int, optional): Set2Set processing steps. (default: ``2``)
        cutoff (float, optional): last Gaussian centre, Å. (default: ``8.0``)
        gauss_width (float, optional): Gaussian width :math:`\sigma`, Å. (default: ``0.5``)
        max_z (int, optional): largest atomic number accepted. (default: ``94``)
        atom_features (array, optional): element table for ``"atom_table"``; default CGCNN's.
        state_input (module, optional): maps a batch to its state input ``(B, state_dim)``.

    Shapes:
        batch (``z`` :math:`(N,)`, ``edge_index`` :math:`(2, E)`, ``edge_dist`` :math:`(E,)`,
        ``batch`` :math:`(N,)`, optional ``state`` :math:`(B, 2)`) -> :math:`(B, T)`;
        :meth:`embed` -> :math:`(B, 5 F)` with :math:`F` = ``conv_hidden[-1]``.
    """

    CITATION_KEYS = ("chen2019megnet", "vinyals2016order")

    def __init__(self, n_targets: int = 1, *, node_input: str = "atom_table",
                 node_embedding: int = 16, edge_bins: int = 100,
                 state_dim: int = 2, n_blocks: int = 3, dense: Sequence[int] = (64, 32),
                 conv_hidden: Sequence[int] = (64, 64, 32), output_hidden: Sequence[int] = (32, 16),
                 set2set_steps: int = 2, cutoff: float = 8.0, gauss_width: float = 0.5,
                 max_z: int = 94, atom_features=None,
                 state_input: nn.Module | None = None) -> None:
        super().__init__()
        if n_targets < 1 or n_blocks < 1:
            raise ValueError(f"MEGNet needs n_targets >= 1 and n_blocks >= 1, got "
                             f"{n_targets} and {n_blocks}")
        if node_input not in NODE_INPUTS:
            raise ValueError(f"node_input must be one of {NODE_INPUTS}, got {node_input!r}")
        dense, conv_hidden = tuple(dense), tuple(conv_hidden)
        width = conv_hidden[-1]
        if dense[-1] != width:
            raise ValueError(f"dense[-1] ({dense[-1]}) must equal conv_hidden[-1] ({width})")
        self.n_targets, self.n_blocks, self.state_dim, self.max_z = n_targets, n_blocks, state_dim, max_z
        self.node_input = node_input
        if node_input == "atom_table":
            self.register_buffer("atom_table", atom_feature_table(atom_features))
            self.element_embedding = nn.Linear(self.atom_table.shape[1], node_embedding)
        else:
            self.atom_table = None
            self.element_embedding = nn.Embedding(max_z + 1, node_embedding)
        self.state_input = state_input
        self.bond_expansion = RadialBasisExpansion(torch.linspace(0.0, cutoff, edge_bins),
                                                   gamma=1.0 / gauss_width**2)
        self.node_encoder = DenseStack((node_embedding, *dense))
        self.edge_encoder = DenseStack((edge_bins, *dense))
        self.state_encoder = DenseStack((state_dim, *dense))
        self.blocks = nn.ModuleList(
            MEGNetBlock(width, dense=dense[:-1] if k else (), conv_hidden=conv_hidden)
            for k in range(n_blocks))
        self.node_set2set = Set2Set(width, processing_steps=set2set_steps)
        self.edge_set2set = Set2Set(width, processing_steps=set2set_steps)
        self.heads = nn.ModuleList(
            DenseStack((5 * width, *output_hidden, 1), activate_last=False)
            for _ in range(n_targets))
        self.reset_parameters()

    @classmethod
    def from_profile(cls, profile: Profile | str | None = None, n_targets: int = 1,
                     **overrides) -> "MEGNet":
        """MEGNet at the paper's size (``n_conv`` of the profile sets the number of blocks)."""
        profile = resolve_profile(profile)
        return cls(n_targets, **{"n_blocks": profile.model.n_conv, **overrides})

    @classmethod
    def with_composition_state(cls, comp_mean: Tensor, comp_std: Tensor,
                               **kwargs) -> "MEGNet":
        r"""MEGNet whose global state input is the material's standardized composition
        vector: :math:`u^{(0)} = D_u(\tilde{\mathbf c})`, :math:`\tilde c_k = (c_k - \mu_k)/s_k`
        (training statistics, NaN -> 0; :class:`~hybridlib.models.fusion.CompositionInput`).

        The state encoder projects the composition to the state width, and every block
        mixes it into the bond and atom updates: composition and structure meet *inside*
        the network (intermediate fusion), not only at the output head.
        """
        from .fusion import CompositionInput

        state = CompositionInput(comp_mean, comp_std)
        return cls(state_dim=state.dim, state_input=state, **kwargs)

    def reset_parameters(self) -> None:
        """Glorot weights and zero biases in every dense layer; defaults elsewhere."""
        if isinstance(self.element_embedding, nn.Linear):
            glorot_(self.element_embedding)
        else:
            self.element_embedding.reset_parameters()
        for module in (self.node_encoder, self.edge_encoder, self.state_encoder, *self.blocks,
                       self.node_set2set, self.edge_set2set, *self.heads):
            module.reset_parameters()

    def _state(self, batch, n_graphs: int, like: Tensor) -> Tensor:
        if self.state_input is not None:
            state = self.state_input(batch)
        else:
            state = getattr(batch, "state", None)
            if state is None:
                return like.new_zeros(n_graphs, self.state_dim)
        state = state.reshape(n_graphs, -1).to(like.dtype)
        if state.size(1) != self.state_dim:
            raise ValueError(f"the state input has width {state.size(1)}, the model expects "
                             f"{self.state_dim}")
        return state

    def _element_vectors(self, z: Tensor) -> Tensor:
        if z.numel() and (int(z.min()) < 1 or int(z.max()) > self.max_z):
            raise ValueError(f"atomic numbers must lie in 1..{self.max_z}; got "
                             f"{int(z.min())}..{int(z.max())}")
        if self.atom_table is not None:
            return self.element_embedding(self.atom_table[z])
        return self.element_embedding(z)

    def embed(self, batch) -> Tensor:
        """Readout ``[Set2Set(atoms) || Set2Set(bonds) || u]`` of the last block, :math:`(B, 5F)`."""
        edge_index = batch.edge_index
        batch_index, n_graphs = node_batch(batch)
        x = self.node_encoder(self._element_vectors(batch.z))
        # bond lengths repeat (symmetry): encode each distinct length once
        lengths, inverse = torch.unique(batch.edge_dist, return_inverse=True)
        edge_attr = self.edge_encoder(self.bond_expansion(lengths)).index_select(0, inverse)
        state = self.state_encoder(self._state(batch, n_graphs, edge_attr))
        for block in self.blocks:
            edge_attr, x, state = block(edge_attr, x, state, edge_index, batch_index)
        edge_batch = batch_index[edge_index[1]]
        return torch.cat([self.node_set2set(x, batch_index, dim_size=n_graphs),
                          self.edge_set2set(edge_attr, edge_batch, dim_size=n_graphs),
                          state], dim=-1)

    def forward(self, batch) -> Tensor:
        readout = self.embed(batch)
        return torch.cat([head(readout) for head in self.heads], dim=-1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(n_blocks={self.n_blocks}, n_targets={self.n_targets}, "
                f"node_input={self.node_input!r}, state_dim={self.state_dim})")
