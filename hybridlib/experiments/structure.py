"""Chapter 5.4 experiments: the seed's simplified ALIGNN and the full ALIGNN on formation energy.

* ``alignn_simple``: :class:`~hybridlib.models.ALIGNNSimple` (atom graph only, no angles).
* ``alignn``: :class:`~hybridlib.models.ALIGNN` (atom graph + line graph with bond angles),
  sized by the profile (``hidden``, ``alignn_layers``, ``gcn_layers``; the paper's 256 / 4 / 4
  in ``full``), on undirected graphs (every bond in both directions), as the reference
  implementation builds them.

Both train with the shared recipe (:func:`~hybridlib.experiments.common.fit_graph_model`):
standardized target, L1 loss, AdamW and a one-cycle schedule run to its end, the
best-validation weights kept.
Introduced in: chapter 5.4.
"""
from __future__ import annotations

from . import Outcome, RunContext, register
from .common import batch_norm_monitor, fit_graph_model

__all__ = ["TARGETS", "alignn_simple", "alignn"]

TARGETS = ("e_form",)


@register("alignn_simple")
def alignn_simple(ctx: RunContext) -> Outcome:
    """The seed's ALIGNN-simplified model on ``e_form``, with the batch-norm diagnostic of
    chapter 5.4 in its history (:func:`batch_norm_monitor`)."""
    from ..models.alignn import ALIGNNSimple

    outcome, _ = fit_graph_model(ctx, lambda train: ALIGNNSimple.from_profile(ctx.profile),
                                 TARGETS, monitor=batch_norm_monitor)
    return outcome


@register("alignn")
def alignn(ctx: RunContext) -> Outcome:
    """Full ALIGNN (line graph with bond angles) on ``e_form``."""
    from ..models.alignn import ALIGNN

    outcome, result = fit_graph_model(ctx, lambda train: ALIGNN.from_profile(ctx.profile),
                                      TARGETS, line_graph=True, graph={"undirected": True})
    outcome.extra["n_parameters"] = sum(p.numel() for p in result.model.parameters())
    return outcome
