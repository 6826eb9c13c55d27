"""Hidden checks of ex-05-8-2 (late-fusion weight chosen on validation), 3 points."""
# %% points=1
import numpy as _np

_grid = _np.linspace(0.0, 1.0, 11)
assert choose_alpha([0.0, 1.0], [0.0, 1.0], [1.0, 0.0], _grid) == 1.0, "a perfect RF needs alpha = 1"
assert choose_alpha([0.0, 1.0], [1.0, 0.0], [0.0, 1.0], _grid) == 0.0, "a perfect GNN needs alpha = 0"

# %% points=2
import numpy as _np
import hybridlib as _hl

_rng = _np.random.default_rng(3)
_y = _rng.normal(size=200)
_a, _b = _y + 0.2 * _rng.normal(size=200), _y + 0.4 * _rng.normal(size=200)
_grid = _np.linspace(0.0, 1.0, 101)
_expected, _ = _hl.models.blend_alpha(_a, _b, _y, _grid)
_got = choose_alpha(_y, _a, _b, _grid)
assert abs(_got - _expected) < 1e-12, f"choose_alpha gave {_got}, expected {_expected:.2f}"
