"""hybridlib.models.layers: the distance and angle basis expansions."""
from __future__ import annotations

import pytest
import torch

from hybridlib.models.layers import AngleExpansion, GaussianExpansion, RBFExpansion


def test_expansions():
    gaussian = GaussianExpansion()
    assert gaussian.out_features == 41
    d = torch.tensor([0.0, 1.3, 8.0])
    expected = torch.exp(-(d[:, None] - torch.arange(41) * 0.2) ** 2 / 0.2**2)
    torch.testing.assert_close(gaussian(d), expected)
    angle = AngleExpansion()
    assert angle.out_features == 40 and angle.gamma == pytest.approx(39 / 2)
    out = angle(torch.tensor([-1.0, 1.0]))
    assert out.shape == (2, 40) and out[0, 0] == 1.0 and out[1, -1] == 1.0
    assert RBFExpansion(0.0, 8.0, 80).gamma == pytest.approx(79 / 8)
    assert "41 centres" in repr(gaussian)
    with pytest.raises(ValueError):
        GaussianExpansion(step=0.0)

