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

from ..config import Profile
from . import Outcome, register
from .common import fit_graph_model

__all__ = ["TARGETS", "alignn_simple", "alignn"]

TARGETS = ("e_form",)
_MODULES = ("train", "graphs", "features.atoms", "models.cgcnn", "models.alignn")


@register("alignn_simple", modules=_MODULES)
def alignn_simple(profile: Profile) -> Outcome:
    """The seed's ALIGNN-simplified model on ``e_form``."""
    from ..models.alignn import ALIGNNSimple

    outcome, _ = fit_graph_model(profile, lambda train: ALIGNNSimple.from_profile(profile),
                                 TARGETS)
    return outcome


@register("alignn", modules=_MODULES)
def alignn(profile: Profile) -> Outcome:
    """Full ALIGNN (line graph with bond angles) on ``e_form``."""
    from ..models.alignn import ALIGNN

    outcome, result = fit_graph_model(profile, lambda train: ALIGNN.from_profile(profile),
                                      TARGETS, line_graph=True)
    outcome.extra["n_parameters"] = sum(p.numel() for p in result.model.parameters())
    return outcome
