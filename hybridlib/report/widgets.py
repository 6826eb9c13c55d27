"""Interactive explorers (ipywidgets) for late-fusion weights and multitask λ.

Each explorer is a small ``ipywidgets.VBox``: a slider and a live readout/figure. The
rendered book cannot run a kernel, so every chapter that shows an explorer also places a
static figure of the same quantity next to it. Introduced in: chapter 5.3.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["blend_mae", "alpha_explorer"]


def blend_mae(alpha: float, y: Sequence[float], pred_a: Sequence[float],
              pred_b: Sequence[float]) -> float:
    """MAE of the blend ``alpha * pred_a + (1 - alpha) * pred_b`` against ``y``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    y, a, b = (np.asarray(v, dtype=float) for v in (y, pred_a, pred_b))
    if not (y.shape == a.shape == b.shape):
        raise ValueError(f"shapes differ: y {y.shape}, pred_a {a.shape}, pred_b {b.shape}")
    return float(np.mean(np.abs(y - (alpha * a + (1.0 - alpha) * b))))


def alpha_explorer(val: tuple, test: tuple, *, names: tuple[str, str] = ("RF", "CGCNN"),
                   unit: str = "eV/atom", step: float = 0.01):
    """A slider over the late-fusion weight α with the validation and test MAE it gives.

    Args:
        val, test: ``(y, pred_a, pred_b)`` on the validation and test rows.
        names: labels of model a (weight α) and model b (weight 1 − α).
        unit: target unit shown in the readout.
        step: slider step.

    Returns:
        ``ipywidgets.VBox`` (display it in a notebook cell).
    """
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=step,
                                 description=f"α ({names[0]})", continuous_update=True,
                                 readout_format=".2f")
    readout = widgets.HTML()

    def update(change=None) -> None:
        alpha = slider.value
        v, t = blend_mae(alpha, *val), blend_mae(alpha, *test)
        readout.value = (f"ŷ = {alpha:.2f}·{names[0]} + {1 - alpha:.2f}·{names[1]} — "
                         f"検証 MAE <b>{v:.4f}</b> {unit}、テスト MAE {t:.4f} {unit}")

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, readout])
