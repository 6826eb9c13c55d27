"""hybridlib.widgets: the α explorer computes the blend it shows."""
from __future__ import annotations

import numpy as np
import pytest

from hybridlib.report import widgets


def test_blend_mae_endpoints_and_optimum():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    a = y + rng.normal(scale=0.3, size=500)
    b = y + rng.normal(scale=0.3, size=500)
    assert widgets.blend_mae(1.0, y, a, b) == pytest.approx(np.mean(np.abs(y - a)))
    assert widgets.blend_mae(0.0, y, a, b) == pytest.approx(np.mean(np.abs(y - b)))
    # two independent, equally noisy models: the even blend beats both
    assert widgets.blend_mae(0.5, y, a, b) < min(widgets.blend_mae(t, y, a, b) for t in (0, 1))


def test_blend_mae_rejects_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        widgets.blend_mae(1.5, [0], [0], [0])
    with pytest.raises(ValueError, match="shapes differ"):
        widgets.blend_mae(0.5, [0, 1], [0], [0, 1])


def test_alpha_explorer_readout_follows_the_slider():
    y = np.array([0.0, 1.0, 2.0])
    box = widgets.alpha_explorer((y, y + 1.0, y), (y, y, y - 1.0))
    slider, readout = box.children
    slider.value = 1.0
    assert "検証 MAE <b>1.0000</b>" in readout.value and "テスト MAE 0.0000" in readout.value
    slider.value = 0.0
    assert "検証 MAE <b>0.0000</b>" in readout.value and "テスト MAE 1.0000" in readout.value
