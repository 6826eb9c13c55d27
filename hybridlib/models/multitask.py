r"""Task weighting for multitask training: :math:`\mathcal L = \sum_k \lambda_k \mathcal L_k`.

Each module maps the per-task losses ``(T,)`` of a batch to the scalar that is minimised
(the ``weighting`` argument of :func:`hybridlib.train.fit`) and exposes the current weights
:math:`\lambda_k` as :attr:`weights` for plotting.

* :class:`FixedWeights`: constant :math:`\lambda` — equal, inverse target standard deviation
  (the scaling that equalises L1 losses; inverse variance is the squared-error one), or
  the seed chapter's :math:`\lambda = (1.0, 0.5)`.
* :class:`UncertaintyWeighting`: learned weights from each task's homoscedastic uncertainty
  (Kendall, Gal & Cipolla, CVPR 2018).

Fixed weights only matter when the tasks' losses live on different scales. The trainer
standardizes every target by default, which already puts them on one scale (for L1 losses
the same as :math:`\lambda_k \propto 1/\sigma_k`); the chapter's :math:`\lambda`
experiments therefore train on unstandardized targets (``TrainConfig(standardize=False)``,
see :mod:`hybridlib.experiments.multitask`). The trainer optimises the parameters of a
learned weighting in their own group, at their own constant learning rate.
Introduced in: chapter 5.5.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["FixedWeights", "UncertaintyWeighting", "SEED_WEIGHTS"]

#: The seed chapter's weights (formation energy, band gap).
SEED_WEIGHTS = (1.0, 0.5)


def _check_losses(losses: Tensor, n_tasks: int, owner: nn.Module) -> None:
    if losses.shape != (n_tasks,):
        raise ValueError(f"{owner}: expected per-task losses of shape ({n_tasks},), "
                         f"got {tuple(losses.shape)}")


class FixedWeights(nn.Module):
    r"""Constant task weights: :math:`\mathcal L = \sum_k \lambda_k \mathcal L_k`.

    Args:
        weights: :math:`\lambda_k`, one positive number per task.

    Shapes:
        losses :math:`(T,)` -> scalar.
    """

    def __init__(self, weights: Sequence[float]) -> None:
        super().__init__()
        values = torch.as_tensor(np.asarray(weights, dtype=float), dtype=torch.float32)
        if values.ndim != 1 or values.numel() == 0:
            raise ValueError(f"weights must be a non-empty 1-D sequence, got {weights!r}")
        if not (torch.isfinite(values).all() and (values > 0).all()):
            raise ValueError(f"task weights must be finite and positive, got {values.tolist()}")
        self.register_buffer("lambdas", values)

    @classmethod
    def equal(cls, n_tasks: int) -> "FixedWeights":
        r""":math:`\lambda_k = 1` for every task."""
        return cls([1.0] * n_tasks)

    @classmethod
    def inverse_std(cls, targets: np.ndarray, power: float = 1.0) -> "FixedWeights":
        r""":math:`\lambda_k \propto 1/\sigma_k^p` over the training targets, normalised to
        :math:`\sum_k \lambda_k = T` (NaN ignored).

        An L1 loss scales like :math:`\sigma_k` (an error in the target's units), so
        ``power=1`` puts L1 losses on one scale — the same as training on standardized
        targets; a squared error scales like :math:`\sigma_k^2` and needs ``power=2``
        (inverse variance).

        Args:
            targets: training targets ``(n, T)`` in original units.
            power: :math:`p`. (default: ``1``)
        """
        targets = np.asarray(targets, dtype=float)
        if targets.ndim != 2:
            raise ValueError(f"targets must be (n, T), got shape {targets.shape}")
        std = np.nanstd(targets, axis=0)
        if not (np.isfinite(std).all() and (std > 0).all()):
            raise ValueError(f"every target needs a positive, finite spread, got std {std}")
        inverse = std ** -float(power)
        return cls(inverse * len(inverse) / inverse.sum())

    @classmethod
    def seed(cls) -> "FixedWeights":
        r"""The seed chapter's :math:`\lambda = (1.0, 0.5)` for (formation energy, band gap)."""
        return cls(SEED_WEIGHTS)

    @property
    def weights(self) -> Tensor:
        r"""Current :math:`\lambda_k`, shape :math:`(T,)`."""
        return self.lambdas.detach().clone()

    def forward(self, losses: Tensor) -> Tensor:
        _check_losses(losses, self.lambdas.numel(), self)
        return (self.lambdas * losses).sum()

    def __repr__(self) -> str:
        values = ", ".join(f"{w:.4g}" for w in self.lambdas.tolist())
        return f"{self.__class__.__name__}([{values}])"


class UncertaintyWeighting(nn.Module):
    r"""Learned task weights from homoscedastic uncertainty (Kendall, Gal & Cipolla, CVPR 2018).

    .. math::
        \mathcal L = \sum_k e^{-s_k}\,\mathcal L_k + s_k, \qquad \lambda_k = e^{-s_k}

    where :math:`s_k` is a learned log-variance, trained together with the network. For a
    fixed :math:`\mathcal L_k` the minimum lies at :math:`e^{s_k} = \mathcal L_k`, so a task
    with a large loss gets a small weight :math:`\lambda_k = 1/\mathcal L_k`, while the
    :math:`+ s_k` term keeps the weights from collapsing to zero.

    Kendall et al. derive, for a Gaussian likelihood and the squared error,
    :math:`\frac{1}{2} e^{-s_k} \mathcal L_k + \frac{1}{2} s_k` with :math:`s_k = \log\sigma_k^2`:
    the factor :math:`\frac12` multiplies the whole objective and changes neither the optimal
    :math:`s_k` nor the relative weights, so it is dropped here, as in most implementations.
    With the absolute error (the trainer's default loss) the form above is exactly the
    negative log-likelihood of a Laplace distribution with scale :math:`b_k = e^{s_k}`.

    Args:
        n_tasks (int): number of tasks :math:`T`.
        init_log_var (float, optional): initial :math:`s_k` (``0``: all weights 1).
            (default: ``0.0``)

    Attributes:
        trajectory (list): :attr:`weights` before every training step, for plotting how they
            move during training (not saved in checkpoints).

    Shapes:
        losses :math:`(T,)` -> scalar.
    """

    CITATION_KEYS = ("kendall2018multi",)

    def __init__(self, n_tasks: int, init_log_var: float = 0.0) -> None:
        super().__init__()
        if n_tasks < 1:
            raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
        self.n_tasks, self.init_log_var = n_tasks, float(init_log_var)
        self.log_vars = nn.Parameter(torch.empty(n_tasks))
        self.trajectory: list[list[float]] = []
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.log_vars, self.init_log_var)
        self.trajectory = []

    @property
    def weights(self) -> Tensor:
        r"""Current :math:`\lambda_k = e^{-s_k}`, shape :math:`(T,)`."""
        return torch.exp(-self.log_vars.detach())

    def forward(self, losses: Tensor) -> Tensor:
        _check_losses(losses, self.n_tasks, self)
        if self.training and torch.is_grad_enabled():
            self.trajectory.append(self.weights.tolist())
        return (torch.exp(-self.log_vars) * losses + self.log_vars).sum()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(n_tasks={self.n_tasks})"
