"""CGCNN: the crystal graph convolutional neural network of Xie & Grossman (2018).

Introduced in: chapter 5.2.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing, global_mean_pool

__all__ = ["CGCNN", "FactorizedCGConv", "atom_feature_table"]


def atom_feature_table(table: np.ndarray | Tensor | str | None = None) -> Tensor:
    """CGCNN's one-hot atom features as a float tensor ``(max_Z + 1, F)``.

    Args:
        table: a table whose row ``Z`` describes element ``Z``, or a source of
            :func:`hybridlib.features.cgcnn_atom_features` (``"published"``: the authors'
            ``atom_init.json`` as matminer ships it; ``"computed"``: the table computed from
            element data). Default: :data:`hybridlib.features.atoms.MODEL_ATOM_FEATURES`
            (the published table, 92 features).
    """
    if table is None or isinstance(table, str):
        from ..features.atoms import MODEL_ATOM_FEATURES, cgcnn_atom_features

        table = cgcnn_atom_features(table or MODEL_ATOM_FEATURES)
    table = torch.as_tensor(np.asarray(table), dtype=torch.float32)
    if table.ndim != 2 or not torch.isfinite(table).all():
        raise ValueError(f"atom feature table must be a finite 2-D array, got shape "
                         f"{tuple(table.shape)}")
    return table


def check_atomic_numbers(z: Tensor, table: Tensor) -> None:
    """Raise a clear error when an atomic number has no row in the feature table."""
    if z.numel() and (int(z.min()) < 1 or int(z.max()) >= table.shape[0]):
        bad = z[(z < 1) | (z >= table.shape[0])].unique().tolist()
        raise ValueError(f"atomic numbers {bad} have no atom features (table covers "
                         f"Z = 1..{table.shape[0] - 1})")


class FactorizedCGConv(MessagePassing):
    r"""The crystal graph convolution of Xie & Grossman (2018), equal to PyG's ``CGConv``
    (same parameters, same outputs), computed with fewer operations.

    .. math::
        \mathbf{x}_i' = \mathbf{x}_i + \mathrm{BN}\Big(\sum_{j} \sigma(\mathbf{z}_{ij}
        W_f + \mathbf{b}_f) \odot g(\mathbf{z}_{ij} W_s + \mathbf{b}_s)\Big), \qquad
        \mathbf{z}_{ij} W = \mathbf{x}_i W^{(i)} + \mathbf{x}_j W^{(j)}
        + \mathbf{e}_{ij} W^{(e)}

    where :math:`\mathbf{z}_{ij} = \mathbf{x}_i \oplus \mathbf{x}_j \oplus \mathbf{e}_{ij}`,
    :math:`\sigma` is the sigmoid, :math:`g` the softplus, and :math:`W^{(i)}, W^{(j)},
    W^{(e)}` are the row blocks of :math:`W` that multiply each part of the concatenation.
    ``CGConv`` multiplies the concatenation on every edge; here the node parts are
    multiplied once per atom (:math:`N` rows instead of :math:`E \approx 13 N`) and
    gathered, so only the edge part runs on :math:`E` rows. ``lin_f``, ``lin_s`` and ``bn``
    have ``CGConv``'s names and shapes: a ``CGConv`` state dict loads unchanged.

    Args:
        channels (int): atom feature size :math:`F`.
        dim (int): edge feature size :math:`D`.
        aggr (str, optional): aggregation of the messages. (default: ``"add"``)
        batch_norm (bool, optional): batch norm on the aggregated messages. (default: ``True``)

    Shapes:
        x :math:`(N, F)`, edge_index :math:`(2, E)` (row 0: neighbour :math:`j`, row 1:
        centre :math:`i`), edge_attr :math:`(E, D)` -> :math:`(N, F)`.
    """

    CITATION_KEYS = ("xie2018cgcnn",)

    def __init__(self, channels: int, dim: int, aggr: str = "add", batch_norm: bool = True,
                 **kwargs) -> None:
        super().__init__(aggr=aggr, **kwargs)
        self.channels, self.dim, self.batch_norm = channels, dim, batch_norm
        self.lin_f = nn.Linear(2 * channels + dim, channels)
        self.lin_s = nn.Linear(2 * channels + dim, channels)
        self.bn = nn.BatchNorm1d(channels) if batch_norm else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in (self.lin_f, self.lin_s, self.bn):
            if module is not None:
                module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        if x.size(-1) != self.channels or edge_attr.size(-1) != self.dim:
            raise ValueError(f"{self}: expected {self.channels} node and {self.dim} edge "
                             f"features, got {x.size(-1)} and {edge_attr.size(-1)}")
        c = self.channels
        weight = torch.cat([self.lin_f.weight, self.lin_s.weight])  # (2F, 2F + D)
        bias = torch.cat([self.lin_f.bias, self.lin_s.bias])
        # [x W^(i) + b | x W^(j)] for every atom in one product; the bias rides on the centre
        node_weight = torch.cat([weight[:, :c], weight[:, c:2 * c]])  # (4F, F)
        centre, neighbour = torch.addmm(torch.cat([bias, torch.zeros_like(bias)]), x,
                                        node_weight.t()).chunk(2, dim=-1)
        out = self.propagate(edge_index, a=centre, b=neighbour, edge_attr=edge_attr,
                             edge_weight=weight[:, 2 * c:])
        out = out if self.bn is None else self.bn(out)
        return out + x

    def message(self, a_i: Tensor, b_j: Tensor, edge_attr: Tensor,
                edge_weight: Tensor) -> Tensor:
        gate, core = torch.addmm(a_i + b_j, edge_attr, edge_weight.t()).chunk(2, -1)
        return torch.sigmoid(gate) * F.softplus(core)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, dim={self.dim})"


class CGCNN(nn.Module):
    r"""Crystal graph convolutional neural network (Xie & Grossman, Phys. Rev. Lett. 120,
    145301, 2018; https://doi.org/10.1103/PhysRevLett.120.145301).

    Atoms start from one-hot element descriptors :math:`\mathbf{x}_i` (92 features), embedded
    linearly, :math:`\mathbf{v}_i^{(0)} = W_e \mathbf{x}_i`; bonds carry the Gaussian expansion
    :math:`\mathbf{u}_{ij}` of their length (0-8 Å, step 0.2 Å: 41 centres). Each of the
    ``n_conv`` gated convolutions (eq. 5 of the paper, PyG's ``CGConv`` with batch norm on the
    summed messages, computed by :class:`FactorizedCGConv`) updates

    .. math::
        \mathbf{v}_i' = \mathbf{v}_i + \mathrm{BN}\Big(\sum_{j} \sigma(\mathbf{z}_{ij} W_f
        + \mathbf{b}_f) \odot g(\mathbf{z}_{ij} W_s + \mathbf{b}_s)\Big),
        \qquad \mathbf{z}_{ij} = \mathbf{v}_i \oplus \mathbf{v}_j \oplus \mathbf{u}_{ij}

    where :math:`\sigma` is the sigmoid and :math:`g` the softplus; the sum runs over the
    neighbours :math:`j` of :math:`i` (periodic images included). The crystal vector is the
    mean of the atom vectors, :math:`\mathbf{v}_c = \frac{1}{N}\sum_i \mathbf{v}_i`
    (:meth:`embed`), read out by ``n_fc`` softplus layers and a linear output.
    (The authors' code also normalises each message and applies a softplus after the
    residual; we follow the equation of the paper.)

    Args:
        atom_features: table ``(max_Z + 1, F)``, row Z = features of element Z, or its
            source (default: the published table, :func:`atom_feature_table`).
        hidden: atom vector width (paper: 64).
        n_conv: number of convolutions (paper: 3).
        fc_hidden: width of the readout layers (paper: 128).
        n_fc: number of hidden readout layers (paper: 1).
        n_targets: outputs :math:`T`.
        cutoff, gaussian_step: range and spacing of the distance expansion.

    Shapes:
        - **input:** a batch with ``z`` (N,), ``edge_index`` (2, E), ``edge_dist`` (E,),
          ``batch`` (N,)
        - **output:** :meth:`forward` (B, T); :meth:`embed` (B, hidden)
    """

    CITATION_KEYS = ("xie2018cgcnn",)

    def __init__(self, atom_features: np.ndarray | Tensor | None = None, hidden: int = 64,
                 n_conv: int = 3, fc_hidden: int = 128, n_fc: int = 1, n_targets: int = 1,
                 cutoff: float = 8.0, gaussian_step: float = 0.2) -> None:
        super().__init__()
        from .layers import GaussianExpansion

        if min(hidden, n_conv, fc_hidden, n_fc, n_targets) < 1:
            raise ValueError("hidden, n_conv, fc_hidden, n_fc and n_targets must be >= 1")
        self.hidden, self.n_conv, self.fc_hidden = hidden, n_conv, fc_hidden
        self.n_fc, self.n_targets = n_fc, n_targets
        self.register_buffer("atom_features", atom_feature_table(atom_features))
        self.expansion = GaussianExpansion(start=0.0, stop=cutoff, step=gaussian_step)
        self.embedding = nn.Linear(self.atom_features.shape[1], hidden)
        self.convs = nn.ModuleList(
            FactorizedCGConv(hidden, self.expansion.out_features)
            for _ in range(n_conv))
        widths = [hidden] + [fc_hidden] * n_fc
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(fc_hidden, n_targets)
        self.reset_parameters()

    @property
    def embedding_dim(self) -> int:
        """Width of :meth:`embed`."""
        return self.hidden

    def reset_parameters(self) -> None:
        """Re-initialise every learnable layer."""
        self.embedding.reset_parameters()
        for layer in [*self.convs, *self.fcs, self.out]:
            layer.reset_parameters()

    def atom_vectors(self, batch) -> Tensor:
        """Atom vectors ``(N, hidden)`` after the convolutions."""
        check_atomic_numbers(batch.z, self.atom_features)
        v = self.embedding(self.atom_features[batch.z])
        u = self.expansion(batch.edge_dist)
        for conv in self.convs:
            v = conv(v, batch.edge_index, u)
        return v

    def embed(self, batch) -> Tensor:
        """Crystal embedding ``(B, hidden)``: mean of the atom vectors of each crystal."""
        index = batch.batch if getattr(batch, "batch", None) is not None else \
            torch.zeros(batch.z.shape[0], dtype=torch.long, device=batch.z.device)
        return global_mean_pool(self.atom_vectors(batch), index,
                                size=getattr(batch, "num_graphs", None))

    def forward(self, batch) -> Tensor:
        """Standardized predictions ``(B, n_targets)``."""
        h = self.embed(batch)
        for fc in self.fcs:
            h = fc(F.softplus(h))
        return self.out(F.softplus(h))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(hidden={self.hidden}, n_conv={self.n_conv}, "
                f"fc_hidden={self.fc_hidden}, n_fc={self.n_fc}, n_targets={self.n_targets})")
