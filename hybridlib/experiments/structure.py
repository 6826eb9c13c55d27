"""Chapter 5.4 experiments: the seed's simplified ALIGNN and the full ALIGNN on formation energy.

* ``alignn_simple``: :class:`~hybridlib.models.ALIGNNSimple` (atom graph only, no angles).
* ``alignn``: :class:`~hybridlib.models.ALIGNN` (atom graph + line graph with bond angles),
  sized by the profile (``hidden``, ``alignn_layers``, ``gcn_layers``; the paper's 256 / 4 / 4
  in ``full``).

Both train with the shared recipe (:func:`~hybridlib.experiments.common.fit_graph_model`):
standardized target, L1 loss, AdamW + one-cycle, early stopping on validation.
Introduced in: chapter 5.4.
"""
from __future__ import annotations

from . import Outcome, RunContext, register
from .common import fit_graph_model

__all__ = ["TARGETS", "alignn_simple", "alignn"]

TARGETS = ("e_form",)


@register("alignn_simple")
def alignn_simple(ctx: RunContext) -> Outcome:
    """The seed's ALIGNN-simplified model on ``e_form``."""
    from ..models.alignn import ALIGNNSimple

    outcome, _ = fit_graph_model(ctx, lambda train: ALIGNNSimple.from_profile(ctx.profile),
                                 TARGETS)
    return outcome


@register("alignn")
def alignn(ctx: RunContext) -> Outcome:
    """Full ALIGNN (line graph with bond angles) on ``e_form``."""
    from ..models.alignn import ALIGNN

    outcome, result = fit_graph_model(ctx, lambda train: ALIGNN.from_profile(ctx.profile),
                                      TARGETS, line_graph=True)
    outcome.extra["n_parameters"] = sum(p.numel() for p in result.model.parameters())
    return outcome
