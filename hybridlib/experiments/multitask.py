r"""Chapter 5.5 experiments: MEGNet single-task runs, its ablation and composition-state
fusion, and multitask runs with task weights.

Data: the profile's materials with *both* targets; each record of the offline sample holds
its formation energy and band gap, so the two targets of a material come from the same
record (joined by ``material_id``; Matbench tasks are joined by structure in
:func:`hybridlib.data.load_dataset`) — never by row position, as the seed does.

Single-task runs train on standardized targets, like every other model of the book:

* ``megnet_e_form``, ``megnet_band_gap``: MEGNet (atom-table input, Glorot init) on one
  target each (the multitask baselines; ``megnet_e_form`` is the MEGNet of chapter 5.6);
* ``megnet_e_form_embedding``: the same with the paper's learned 16-dim element embedding
  instead of the chemical atom table (the ablation of chapter 5.5);
* ``megnet_state_fusion``: MEGNet whose global state is the standardized Magpie vector
  (:meth:`~hybridlib.models.MEGNet.with_composition_state`): composition and structure
  fused inside the network (intermediate fusion), on ``e_form``.

The multitask runs share the MEGNet trunk and train on **unstandardized** targets
(``standardize=False``): standardizing would already put both targets on one scale — it is
the same as weighting the raw L1 losses by :math:`1/\sigma_k` — and hide the imbalance that
the task weights :math:`\lambda` are meant to fix; each output bias starts at its
training-target median instead. Epochs are ranked, as always, by the mean over tasks of
validation MAE / training standard deviation.

* ``megnet_mt_equal``: :math:`\lambda = (1, 1)`.
* ``megnet_mt_invstd``: :math:`\lambda_k \propto 1/\sigma_k` on the training split (the
  scaling that puts L1 losses on one scale; :math:`1/\sigma_k^2` is the squared-error one).
* ``megnet_mt_seed``: the seed's :math:`\lambda = (1.0, 0.5)`.
* ``megnet_mt_uncertainty``: learned weights (Kendall et al. 2018), their log-variances in
  their own parameter group at a constant learning rate.

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
           "megnet_e_form_embedding", "megnet_state_fusion", "megnet_mt_equal",
           "megnet_mt_invstd", "megnet_mt_seed", "megnet_mt_uncertainty"]

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


def _describe(outcome: Outcome, targets: Sequence[str], weighting: nn.Module | None,
              standardized: bool) -> Outcome:
    outcome.extra["standardized_targets"] = standardized
    if "band_gap" in targets:
        outcome.extra["band_gap_by_class"] = band_gap_by_class(outcome.predictions)
    if weighting is not None:
        outcome.extra["weights"] = dict(zip(targets, weighting.weights.tolist()))
    return outcome


def _single_task(ctx: RunContext, target: str, **options) -> Outcome:
    """MEGNet on one standardized target (``options``: :class:`MEGNet` arguments)."""
    from ..models.megnet import MEGNet

    outcome, _ = fit_graph_model(
        ctx, lambda train: MEGNet.from_profile(ctx.profile, **options), (target,))
    return _describe(outcome, ctx.targets((target,)), None, True)


def _multitask(ctx: RunContext, weighting: nn.Module) -> Outcome:
    """MEGNet on both raw targets, losses combined by ``weighting``."""
    outcome, _ = fit_graph_model(
        ctx, lambda train: _megnet_with_offsets(ctx.profile, len(TARGETS), train), TARGETS,
        weighting=weighting, standardize=False)
    return _describe(outcome, TARGETS, weighting, False)


@register("megnet_e_form")
def megnet_e_form(ctx: RunContext) -> Outcome:
    """Single-task MEGNet on formation energy (atom-table input)."""
    return _single_task(ctx, "e_form")


@register("megnet_band_gap")
def megnet_band_gap(ctx: RunContext) -> Outcome:
    """Single-task MEGNet on band gap (atom-table input)."""
    return _single_task(ctx, "band_gap")


@register("megnet_e_form_embedding")
def megnet_e_form_embedding(ctx: RunContext) -> Outcome:
    """Single-task MEGNet on formation energy with a learned element embedding (ablation)."""
    return _single_task(ctx, "e_form", node_input="embedding")


@register("megnet_state_fusion")
def megnet_state_fusion(ctx: RunContext) -> Outcome:
    """MEGNet whose global state is the standardized Magpie vector (intermediate fusion)."""
    from ..models.fusion import composition_stats
    from ..models.megnet import MEGNet

    outcome, _ = fit_graph_model(
        ctx, lambda train: MEGNet.with_composition_state(
            *composition_stats(train), n_blocks=ctx.profile.model.n_conv),
        ("e_form",), comp_preset="magpie")
    return _describe(outcome, ctx.targets(("e_form",)), None, True)


@register("megnet_mt_equal")
def megnet_mt_equal(ctx: RunContext) -> Outcome:
    """Multitask MEGNet, equal weights on raw (unstandardized) losses."""
    from ..models.multitask import FixedWeights

    return _multitask(ctx, FixedWeights.equal(len(TARGETS)))


@register("megnet_mt_invstd")
def megnet_mt_invstd(ctx: RunContext) -> Outcome:
    """Multitask MEGNet, weights proportional to 1 / training-target standard deviation."""
    from ..models.multitask import FixedWeights

    frame = ctx.table()
    train = frame.loc[frame["split"] == "train", list(TARGETS)].to_numpy(dtype=float)
    return _multitask(ctx, FixedWeights.inverse_std(train))


@register("megnet_mt_seed")
def megnet_mt_seed(ctx: RunContext) -> Outcome:
    """Multitask MEGNet with the seed chapter's weights (1.0, 0.5)."""
    from ..models.multitask import FixedWeights

    return _multitask(ctx, FixedWeights.seed())


@register("megnet_mt_uncertainty")
def megnet_mt_uncertainty(ctx: RunContext) -> Outcome:
    """Multitask MEGNet with learned uncertainty weights (Kendall et al. 2018)."""
    from ..models.multitask import UncertaintyWeighting

    weighting = UncertaintyWeighting(len(TARGETS))
    outcome = _multitask(ctx, weighting)
    outcome.extra["weight_trajectory"] = np.asarray(weighting.trajectory).tolist()
    return outcome
