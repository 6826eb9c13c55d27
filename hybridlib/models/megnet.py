r"""MEGNet (Chen, Ye, Zuo, Zheng & Ong, Chem. Mater. 31, 3564, 2019) in PyTorch + PyG.

A MEGNet block updates bonds, then atoms, then a global state vector ``u``, each with an
MLP that sees the other two (a graph network in the sense of Battaglia et al. 2018),
wrapped in dense pre-layers and a residual connection. Bonds and atoms are read out with
Set2Set and joined with ``u``. :class:`MEGNet` keeps one output MLP per target on a shared
trunk, so the same class is the single-task model and the multitask model of chapter 5.5.
Introduced in: chapter 5.5.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn.aggr import Set2Set
from torch_geometric.nn.models.schnet import ShiftedSoftplus
from torch_geometric.utils import scatter

from ..config import Profile, resolve_profile
from .layers import RadialBasisExpansion
from .alignn import node_batch

__all__ = ["DenseStack", "MEGNetGraphConv", "MEGNetBlock", "MEGNet"]


class DenseStack(nn.Sequential):
    r"""Dense layers, each ``Linear -> SoftPlus2`` with :math:`\mathrm{SoftPlus2}(x) =
    \ln(1 + e^x) - \ln 2` (MEGNet's activation, zero at zero).

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
                layers.append(ShiftedSoftplus())
        super().__init__(*layers)
        self.dims = tuple(int(d) for d in dims)

    def reset_parameters(self) -> None:
        for layer in self:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

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

    def forward(self, edge_attr: Tensor, x: Tensor, state: Tensor, edge_index: Tensor,
                batch: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        source, target = edge_index
        n_graphs = state.size(0)
        edge_batch = batch[target]
        edge_attr = self.edge_mlp(torch.cat(
            [x[target], x[source], edge_attr, state[edge_batch]], dim=-1))
        incoming = scatter(edge_attr, target, dim=0, dim_size=x.size(0), reduce="mean")
        x = self.node_mlp(torch.cat([incoming, x, state[batch]], dim=-1))
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


class MEGNet(nn.Module):
    r"""MEGNet (Chen et al., Chem. Mater. 31, 3564, 2019) with one output MLP per target.

    .. math::
        v^{(0)} = D_v(\mathrm{Emb}(Z)), \quad e^{(0)} = D_e(\mathrm{RBF}(d_{ij})), \quad
        u^{(0)} = D_u(u_{\mathrm{in}}) \\
        (e, v, u) \leftarrow \mathrm{MEGNetBlock}(e, v, u) \ (\times L), \qquad
        \hat y_t = \mathrm{MLP}_t\big([\mathrm{S2S}(v) \Vert \mathrm{S2S}(e) \Vert u]\big)

    Defaults follow the paper and matgl's ``MEGNet``: a learned 16-dim element embedding,
    100 Gaussians for the bond length, a 2-dim global state input, encoders 64-32, three
    blocks (64-64-32 update MLPs, 64-32 pre-layers), Set2Set with 2 steps and one LSTM
    layer, output MLP 32-16-1, SoftPlus2 activations — 189,617 parameters for one target.

    Choices of this implementation:

    * The global state input is ``batch.state`` ``(B, state_dim)`` when the graphs carry one,
      else zeros of width 2 (the paper's and matgl's default ``[0, 0]`` for crystals).
    * Bonds are the graphs of :mod:`hybridlib.graphs` (12 nearest neighbours within 8 Å),
      one directed edge per (neighbour, centre), rather than MEGNet's all-pairs radius
      graph (4–5 Å); the Gaussian centres therefore span 0–``cutoff`` = 8 Å, with the paper's
      width :math:`\sigma = 0.5` Å (:math:`e_k = \exp(-(d - \mu_k)^2/\sigma^2)`).
    * Each target has its own output MLP (hard parameter sharing); with one target the
      model is the paper's.

    Args:
        n_targets (int, optional): number of targets / output MLPs. (default: ``1``)
        node_embedding (int, optional): element embedding width. (default: ``16``)
        edge_bins (int, optional): Gaussian centres for bond lengths. (default: ``100``)
        state_dim (int, optional): global state input width. (default: ``2``)
        n_blocks (int, optional): MEGNet blocks. (default: ``3``)
        dense (sequence, optional): encoder / pre-layer widths. (default: ``(64, 32)``)
        conv_hidden (sequence, optional): update-MLP widths. (default: ``(64, 64, 32)``)
        output_hidden (sequence, optional): output-MLP hidden widths. (default: ``(32, 16)``)
        set2set_steps (int, optional): Set2Set processing steps. (default: ``2``)
        cutoff (float, optional): last Gaussian centre, Å. (default: ``8.0``)
        gauss_width (float, optional): Gaussian width :math:`\sigma`, Å. (default: ``0.5``)
        max_z (int, optional): largest atomic number of the embedding. (default: ``94``)

    Shapes:
        batch (``z`` :math:`(N,)`, ``edge_index`` :math:`(2, E)`, ``edge_dist`` :math:`(E,)`,
        ``batch`` :math:`(N,)`, optional ``state`` :math:`(B, 2)`) -> :math:`(B, T)`;
        :meth:`embed` -> :math:`(B, 5 F)` with :math:`F` = ``conv_hidden[-1]``.
    """

    CITATION_KEYS = ("chen2019megnet", "vinyals2016order")

    def __init__(self, n_targets: int = 1, *, node_embedding: int = 16, edge_bins: int = 100,
                 state_dim: int = 2, n_blocks: int = 3, dense: Sequence[int] = (64, 32),
                 conv_hidden: Sequence[int] = (64, 64, 32), output_hidden: Sequence[int] = (32, 16),
                 set2set_steps: int = 2, cutoff: float = 8.0, gauss_width: float = 0.5,
                 max_z: int = 94) -> None:
        super().__init__()
        if n_targets < 1 or n_blocks < 1:
            raise ValueError(f"MEGNet needs n_targets >= 1 and n_blocks >= 1, got "
                             f"{n_targets} and {n_blocks}")
        dense, conv_hidden = tuple(dense), tuple(conv_hidden)
        width = conv_hidden[-1]
        if dense[-1] != width:
            raise ValueError(f"dense[-1] ({dense[-1]}) must equal conv_hidden[-1] ({width})")
        self.n_targets, self.n_blocks, self.state_dim, self.max_z = n_targets, n_blocks, state_dim, max_z
        self.element_embedding = nn.Embedding(max_z + 1, node_embedding)
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

    @classmethod
    def from_profile(cls, profile: Profile | str | None = None, n_targets: int = 1,
                     **overrides) -> "MEGNet":
        """MEGNet at the paper's size (``n_conv`` of the profile sets the number of blocks)."""
        profile = resolve_profile(profile)
        return cls(n_targets, **{"n_blocks": profile.model.n_conv, **overrides})

    def reset_parameters(self) -> None:
        for module in (self.element_embedding, self.node_encoder, self.edge_encoder,
                       self.state_encoder, *self.blocks, self.node_set2set, self.edge_set2set,
                       *self.heads):
            module.reset_parameters()

    def _state_input(self, batch, n_graphs: int, like: Tensor) -> Tensor:
        state = getattr(batch, "state", None)
        if state is None:
            return like.new_zeros(n_graphs, self.state_dim)
        state = state.reshape(n_graphs, -1).to(like.dtype)
        if state.size(1) != self.state_dim:
            raise ValueError(f"batch.state has width {state.size(1)}, the model expects "
                             f"{self.state_dim}")
        return state

    def embed(self, batch) -> Tensor:
        """Readout ``[Set2Set(atoms) || Set2Set(bonds) || u]`` of the last block, :math:`(B, 5F)`."""
        z, edge_index = batch.z, batch.edge_index
        if z.numel() and (int(z.min()) < 1 or int(z.max()) > self.max_z):
            raise ValueError(f"atomic numbers must lie in 1..{self.max_z}; got "
                             f"{int(z.min())}..{int(z.max())}")
        batch_index, n_graphs = node_batch(batch)
        x = self.node_encoder(self.element_embedding(z))
        edge_attr = self.edge_encoder(self.bond_expansion(batch.edge_dist))
        state = self.state_encoder(self._state_input(batch, n_graphs, edge_attr))
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
                f"state_dim={self.state_dim})")
