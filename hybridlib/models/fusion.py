"""Early fusion of composition features and a crystal-graph embedding, plain and attentive.

Both models read the raw composition features ``batch.comp`` (B, D) and standardize them
with training-set statistics kept as buffers (:func:`composition_stats`); a feature missing
for a material (NaN, e.g. noble-gas electronegativity) becomes 0 after standardization,
i.e. it is imputed with its training mean. The graph model is any module with
``embed(batch) -> (B, H)`` and an ``embedding_dim`` attribute (e.g. :class:`CGCNN`); it is
trained end to end with the fusion head. ``reset_parameters`` re-initialises the fusion
layers only, never the graph model: a pretrained GNN passed in keeps its weights.

:class:`EarlyFusion` has the switches of chapter 5.2's ablation: no composition (the
control, a CGCNN with a different head), no dropout, a batch norm on the GNN branch (both
inputs standardized per feature); :class:`ResidualFusion` adds a composition correction to
the GNN's own prediction.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["composition_stats", "CompositionInput", "EarlyFusion", "ResidualFusion",
           "AttentionFusion"]


def composition_stats(graphs: Sequence) -> tuple[Tensor, Tensor]:
    """NaN-aware mean and standard deviation ``(D,)`` of ``graph.comp`` over the training graphs.

    A feature never observed gets mean 0; a constant one gets std 1.
    """
    if len(graphs) == 0 or getattr(graphs[0], "comp", None) is None:
        raise ValueError("composition statistics need training graphs with a `comp` field")
    comp = torch.cat([g.comp.reshape(1, -1) for g in graphs]).double().numpy()
    finite = np.isfinite(comp)
    counts = np.maximum(finite.sum(axis=0), 1)
    mean = np.where(finite, comp, 0.0).sum(axis=0) / counts
    std = np.sqrt((np.where(finite, comp - mean, 0.0) ** 2).sum(axis=0) / counts)
    std = np.where(std > 0, std, 1.0)
    return (torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32))


class CompositionInput(nn.Module):
    """Standardizes ``batch.comp`` with stored training statistics; NaN -> 0 (the mean).

    Shapes:
        a batch with ``comp`` :math:`(B, D)` -> :math:`(B, D)`.
    """

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        mean, std = torch.as_tensor(mean).float().reshape(-1), torch.as_tensor(std).float()
        if mean.shape != std.reshape(-1).shape or (std <= 0).any():
            raise ValueError("composition mean and std need the same shape and std > 0")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std.reshape(-1))

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    def forward(self, batch) -> Tensor:
        comp = getattr(batch, "comp", None)
        if comp is None:
            raise ValueError("fusion models need composition features `comp` on every graph")
        if comp.ndim != 2 or comp.shape[-1] != self.dim:
            raise ValueError(f"batch.comp has shape {tuple(comp.shape)}, the model "
                             f"expects (batch, {self.dim})")
        return torch.nan_to_num((comp - self.mean) / self.std, nan=0.0)


def _mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear -> softplus -> dropout for each hidden width; a plain linear output layer."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.Softplus()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def _reset(modules) -> None:
    for module in modules:
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


class EarlyFusion(nn.Module):
    r"""Early fusion: an MLP on the standardized composition features concatenated with
    the crystal-graph embedding (chapter 5.2 of the seed text).

    .. math::
        \hat{\mathbf{y}} = \mathrm{MLP}\big(\tilde{\mathbf{c}} \oplus
        \mathrm{GNN}(G)\big), \qquad \tilde{c}_k = (c_k - \mu_k) / s_k

    where :math:`\mathbf{c}` are the composition features (Magpie) of the material,
    :math:`\mu, s` their training-set mean and standard deviation, and :math:`\mathrm{GNN}(G)`
    the pooled crystal embedding (:meth:`CGCNN.embed`). The MLP uses softplus and dropout
    (against over-fitting of the wide input, exercise 1 of the chapter).

    Args:
        gnn: graph model with ``embed(batch) -> (B, H)`` and ``embedding_dim``.
        comp_mean, comp_std: training statistics ``(D,)`` (:func:`composition_stats`).
        hidden: widths of the MLP's hidden layers (seed: 128, 64).
        dropout: dropout probability after each hidden layer (``0``: none).
        branch_norm: batch-normalize the GNN embedding, so that both halves of the fused
            vector are standardized per feature (the composition by training statistics).
        use_composition: ``False`` feeds zeros instead of the composition (the ablation's
            control: the same network without the composition information).
        n_targets: outputs :math:`T`.

    Shapes:
        - **input:** a batch of crystal graphs with ``comp`` (B, D)
        - **output:** (B, T)
    """

    CITATION_KEYS = ("xie2018cgcnn", "ward2016general")

    def __init__(self, gnn: nn.Module, comp_mean: Tensor, comp_std: Tensor,
                 hidden: Sequence[int] = (128, 64), dropout: float = 0.2,
                 branch_norm: bool = False, use_composition: bool = True,
                 n_targets: int = 1) -> None:
        super().__init__()
        self.gnn = gnn
        self.composition = CompositionInput(comp_mean, comp_std)
        self.hidden, self.dropout, self.n_targets = tuple(hidden), dropout, n_targets
        self.branch_norm, self.use_composition = branch_norm, use_composition
        self.graph_norm = nn.BatchNorm1d(gnn.embedding_dim) if branch_norm else None
        self.head = _mlp([self.composition.dim + gnn.embedding_dim, *self.hidden, n_targets],
                         dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the head (and branch norm); the graph model keeps its weights."""
        _reset([*self.head, self.graph_norm])

    def embed(self, batch) -> Tensor:
        """The fused input of the MLP ``(B, D + H)``."""
        comp = self.composition(batch)
        graph = self.gnn.embed(batch)
        if self.graph_norm is not None:
            graph = self.graph_norm(graph)
        if not self.use_composition:
            comp = torch.zeros_like(comp)
        return torch.cat([comp, graph], dim=-1)

    def forward(self, batch) -> Tensor:
        """Standardized predictions ``(B, T)``."""
        return self.head(self.embed(batch))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(comp_dim={self.composition.dim}, gnn={self.gnn!r}, "
                f"hidden={self.hidden}, dropout={self.dropout}, branch_norm={self.branch_norm}, "
                f"use_composition={self.use_composition}, n_targets={self.n_targets})")


class ResidualFusion(nn.Module):
    r"""Residual fusion: the GNN's own prediction plus a correction from the composition.

    .. math::
        \hat{\mathbf{y}} = \mathrm{GNN}(G) + g(\tilde{\mathbf{c}})

    where :math:`\mathrm{GNN}(G)` is the graph model's full prediction (e.g. CGCNN with its
    own head) and :math:`g` an MLP on the standardized composition features whose output
    layer starts at zero, so training starts from the plain GNN.

    Args:
        gnn: graph model whose ``forward(batch) -> (B, T)`` predicts the targets.
        comp_mean, comp_std: training statistics ``(D,)`` of the composition features.
        hidden, dropout: the MLP :math:`g` (as :class:`EarlyFusion`'s head).
        n_targets: outputs :math:`T` (the GNN's too).

    Shapes:
        - **input:** a batch of crystal graphs with ``comp`` (B, D)
        - **output:** (B, T)
    """

    CITATION_KEYS = ("xie2018cgcnn", "ward2016general")

    def __init__(self, gnn: nn.Module, comp_mean: Tensor, comp_std: Tensor,
                 hidden: Sequence[int] = (128, 64), dropout: float = 0.2,
                 n_targets: int = 1) -> None:
        super().__init__()
        self.gnn = gnn
        self.composition = CompositionInput(comp_mean, comp_std)
        self.hidden, self.dropout, self.n_targets = tuple(hidden), dropout, n_targets
        self.correction = _mlp([self.composition.dim, *self.hidden, n_targets], dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the correction MLP (output layer zero); the GNN keeps its weights."""
        _reset(self.correction)
        nn.init.zeros_(self.correction[-1].weight)
        nn.init.zeros_(self.correction[-1].bias)

    def forward(self, batch) -> Tensor:
        """Standardized predictions ``(B, T)``."""
        return self.gnn(batch) + self.correction(self.composition(batch))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(comp_dim={self.composition.dim}, gnn={self.gnn!r}, "
                f"hidden={self.hidden}, dropout={self.dropout}, n_targets={self.n_targets})")


class AttentionFusion(nn.Module):
    r"""Attention-weighted fusion of composition and structure (exercise 6 of the seed text).

    Both sources are projected to a common width :math:`W`, scored, and mixed with
    per-material softmax weights:

    .. math::
        \mathbf{p}_c = g(A\tilde{\mathbf{c}} + \mathbf{a}), \quad
        \mathbf{p}_s = g(B\,\mathrm{GNN}(G) + \mathbf{b}), \quad
        (w_c, w_s) = \mathrm{softmax}(\mathbf{q}_c^\top \mathbf{p}_c,\;
        \mathbf{q}_s^\top \mathbf{p}_s), \quad
        \hat{\mathbf{y}} = \mathrm{MLP}(w_c \mathbf{p}_c + w_s \mathbf{p}_s)

    where :math:`g` is the softplus and :math:`\tilde{\mathbf{c}}` the standardized
    composition features. :meth:`source_weights` returns :math:`(w_c, w_s)` for inspection.

    Args:
        gnn: graph model with ``embed(batch) -> (B, H)`` and ``embedding_dim``.
        comp_mean, comp_std: training statistics ``(D,)`` of the composition features.
        width: common projection width :math:`W` (default: the GNN's embedding width).
        hidden: hidden widths of the output MLP.
        dropout: dropout probability in the output MLP.
        n_targets: outputs :math:`T`.

    Shapes:
        - **input:** a batch of crystal graphs with ``comp`` (B, D)
        - **output:** (B, T); :meth:`source_weights` (B, 2), columns (composition, structure)
    """

    CITATION_KEYS = ("xie2018cgcnn", "ward2016general", "bahdanau2015attention")
    SOURCES = ("composition", "structure")

    def __init__(self, gnn: nn.Module, comp_mean: Tensor, comp_std: Tensor,
                 width: int | None = None, hidden: Sequence[int] = (64,),
                 dropout: float = 0.2, n_targets: int = 1) -> None:
        super().__init__()
        self.gnn = gnn
        self.composition = CompositionInput(comp_mean, comp_std)
        self.width = width or gnn.embedding_dim
        self.hidden, self.dropout, self.n_targets = tuple(hidden), dropout, n_targets
        self.project_comp = nn.Linear(self.composition.dim, self.width)
        self.project_graph = nn.Linear(gnn.embedding_dim, self.width)
        self.score_comp = nn.Linear(self.width, 1)
        self.score_graph = nn.Linear(self.width, 1)
        self.head = _mlp([self.width, *self.hidden, n_targets], dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise projections, scores and head; the graph model keeps its weights."""
        _reset([self.project_comp, self.project_graph, self.score_comp, self.score_graph,
                *self.head])

    def _sources(self, batch) -> tuple[Tensor, Tensor, Tensor]:
        p_comp = F.softplus(self.project_comp(self.composition(batch)))
        p_graph = F.softplus(self.project_graph(self.gnn.embed(batch)))
        scores = torch.cat([self.score_comp(p_comp), self.score_graph(p_graph)], dim=-1)
        return p_comp, p_graph, torch.softmax(scores, dim=-1)

    def source_weights(self, batch) -> Tensor:
        """Softmax weights ``(B, 2)`` of (composition, structure) for each material."""
        return self._sources(batch)[2]

    def embed(self, batch) -> Tensor:
        """The attention-weighted mixture ``(B, W)`` fed to the output MLP."""
        p_comp, p_graph, weights = self._sources(batch)
        return weights[:, :1] * p_comp + weights[:, 1:] * p_graph

    def forward(self, batch) -> Tensor:
        """Standardized predictions ``(B, T)``."""
        return self.head(self.embed(batch))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(comp_dim={self.composition.dim}, width={self.width}, "
                f"gnn={self.gnn!r}, hidden={self.hidden}, n_targets={self.n_targets})")
