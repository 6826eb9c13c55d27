"""Layers shared by the graph models: radial and angular basis expansions, and networks of a
per-row scalar computed once per distinct value.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["RadialBasisExpansion", "GaussianExpansion", "RBFExpansion", "AngleExpansion",
           "DistinctValueEmbedding", "weighted_batch_norm"]


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


class DistinctValueEmbedding(nn.Sequential):
    r"""A network applied to a per-row scalar (bond length, angle cosine) once per distinct
    value, its output gathered back to every row.

    Crystals are symmetric: in a batch of 64 MP-20 crystals the ~67,000 bond pairs of the
    line graph take only ~5,000 distinct angle cosines and the ~5,000 bonds ~500 distinct
    lengths. Mapping each distinct value once and indexing gives the same output as mapping
    every row. Batch norms in training mode use statistics weighted by how often each value
    occurs, so outputs, gradients and running statistics equal those of the same
    ``nn.Sequential`` applied to all rows (up to floating-point summation order).

    Args:
        *layers: modules applied in order (basis expansions, ``Linear``, ``BatchNorm1d``,
            activations, or ``nn.Sequential`` of those) to a 1-D input.

    Shapes:
        :math:`(M,)` -> :math:`(M, F_{out})`.
    """

    def _flat(self, modules=None):
        for module in (self if modules is None else modules):
            if isinstance(module, nn.Sequential):
                yield from self._flat(module)
            else:
                yield module

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        distinct, inverse, counts = torch.unique(values, return_inverse=True,
                                                 return_counts=True)
        h = distinct
        for layer in self._flat():
            if isinstance(layer, nn.BatchNorm1d) and layer.training:
                h = weighted_batch_norm(layer, h, counts)
            else:
                h = layer(h)
        return h.index_select(0, inverse)


def weighted_batch_norm(bn: nn.BatchNorm1d, h: torch.Tensor, counts: torch.Tensor
                        ) -> torch.Tensor:
    """``bn`` in training mode on a batch in which row ``r`` of ``h`` occurs ``counts[r]``
    times: the normalised rows and the running statistics ``bn`` would give the full batch."""
    weights = counts.to(h.dtype).unsqueeze(1)
    n = weights.sum()
    mean = (weights * h).sum(0) / n
    var = (weights * (h - mean) ** 2).sum(0) / n
    if bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = (1.0 / float(bn.num_batches_tracked) if bn.momentum is None
                      else bn.momentum)
            bn.running_mean.mul_(1 - factor).add_(factor * mean)
            bn.running_var.mul_(1 - factor).add_(factor * var * n / (n - 1).clamp(min=1))
    out = (h - mean) / torch.sqrt(var + bn.eps)
    return out * bn.weight + bn.bias if bn.affine else out
