r"""Chapter 5.5 experiments: MEGNet single-task baselines and multitask runs with task weights.

Data: the profile's materials with *both* targets; each record of the offline sample holds
its formation energy and band gap, so the two targets of a material come from the same
record (joined by ``material_id``; Matbench tasks are joined by structure in
:func:`hybridlib.data.load_dataset`) — never by row position, as the seed does.

All six runs use the same MEGNet trunk (:class:`~hybridlib.models.MEGNet`) and train on
**unstandardized** targets (``standardize=False``): the trainer standardizes by default,
which would already put both targets on one scale and hide the imbalance that the task
weights :math:`\lambda` are meant to fix; each output bias starts at its training-target
median instead. Early stopping therefore ranks epochs by the
sum of the raw validation MAEs (eV/atom + eV) in the multitask runs.

* ``megnet_e_form``, ``megnet_band_gap``: one target each (the transfer baselines).
* ``megnet_mt_equal``: :math:`\lambda = (1, 1)`.
* ``megnet_mt_invvar``: :math:`\lambda_k \propto 1/\mathrm{Var}(y_k)` on the training split.
* ``megnet_mt_seed``: the seed's :math:`\lambda = (1.0, 0.5)`.
* ``megnet_mt_uncertainty``: learned weights (Kendall et al. 2018).

Every run with the band gap reports in ``extra["band_gap_by_class"]`` the test MAE on metals
(gap = 0) and on non-metals separately; multitask runs store the final task weights in
``extra["weights"]``, the learned ones also their per-step trajectory.
Introduced in: chapter 5.5.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..config import Profile
from . import Outcome, RunContext, register
from .common import fit_graph_model

__all__ = ["TARGETS", "band_gap_by_class", "megnet_e_form", "megnet_band_gap",
           "megnet_mt_equal", "megnet_mt_invvar", "megnet_mt_seed", "megnet_mt_uncertainty"]

TARGETS = ("e_form", "band_gap")


def band_gap_by_class(predictions: pd.DataFrame, split: str = "test") -> dict:
    """Band-gap MAE on metals (true gap == 0) and non-metals, with their counts."""
    part = predictions[predictions["split"] == split]
    error = (part["band_gap_pred"] - part["band_gap"]).abs()
    metal = part["band_gap"] == 0
    return {name: {"mae": float(error[mask].mean()) if mask.any() else float("nan"),
                   "n": int(mask.sum())}
            for name, mask in (("metal", metal), ("nonmetal", ~metal))}


def _megnet_with_offsets(profile: Profile, n_targets: int, train: list) -> nn.Module:
    """MEGNet whose output biases start at the training-target medians, the best constant
    under the L1 loss (raw targets: the network need not spend its first epochs learning
    the offset)."""
    from ..models.megnet import MEGNet

    model = MEGNet.from_profile(profile, n_targets=n_targets)
    targets = torch.cat([g.y.reshape(1, -1) for g in train]).double()
    with torch.no_grad():
        for head, median in zip(model.heads, torch.nanmedian(targets, dim=0).values):
            head[-1].bias.fill_(float(median))
    return model


def _megnet_run(ctx: RunContext, targets: Sequence[str],
                weighting: nn.Module | None = None) -> Outcome:
    outcome, _ = fit_graph_model(
        ctx, lambda train: _megnet_with_offsets(ctx.profile, len(targets), train), targets,
        weighting=weighting, standardize=False)
    outcome.extra["standardized_targets"] = False
    if "band_gap" in targets:
        outcome.extra["band_gap_by_class"] = band_gap_by_class(outcome.predictions)
    if weighting is not None:
        outcome.extra["weights"] = dict(zip(targets, weighting.weights.tolist()))
    return outcome


@register("megnet_e_form")
def megnet_e_form(ctx: RunContext) -> Outcome:
    """Single-task MEGNet on formation energy."""
    return _megnet_run(ctx, ("e_form",))


@register("megnet_band_gap")
def megnet_band_gap(ctx: RunContext) -> Outcome:
    """Single-task MEGNet on band gap."""
    return _megnet_run(ctx, ("band_gap",))


@register("megnet_mt_equal")
def megnet_mt_equal(ctx: RunContext) -> Outcome:
    """Multitask MEGNet, equal weights on raw (unstandardized) losses."""
    from ..models.multitask import FixedWeights

    return _megnet_run(ctx, TARGETS, FixedWeights.equal(len(TARGETS)))


def _inverse_variance(ctx: RunContext) -> nn.Module:
    from ..models.multitask import FixedWeights

    frame = ctx.table()
    train = frame.loc[frame["split"] == "train", list(TARGETS)].to_numpy(dtype=float)
    return FixedWeights.inverse_variance(train)


@register("megnet_mt_invvar")
def megnet_mt_invvar(ctx: RunContext) -> Outcome:
    """Multitask MEGNet, weights proportional to 1 / training-target variance."""
    return _megnet_run(ctx, TARGETS, _inverse_variance(ctx))


@register("megnet_mt_seed")
def megnet_mt_seed(ctx: RunContext) -> Outcome:
    """Multitask MEGNet with the seed chapter's weights (1.0, 0.5)."""
    from ..models.multitask import FixedWeights

    return _megnet_run(ctx, TARGETS, FixedWeights.seed())


@register("megnet_mt_uncertainty")
def megnet_mt_uncertainty(ctx: RunContext) -> Outcome:
    """Multitask MEGNet with learned uncertainty weights (Kendall et al. 2018)."""
    from ..models.multitask import UncertaintyWeighting

    weighting = UncertaintyWeighting(len(TARGETS))
    outcome = _megnet_run(ctx, TARGETS, weighting)
    outcome.extra["weight_trajectory"] = np.asarray(weighting.trajectory).tolist()
    return outcome
