"""Hidden checks of ex-05-8-4 (task weights from target scales), 2 points."""
# %% points=1
import numpy as _np

_got = _np.asarray(inverse_variance_weights([[0.0, 0.0], [2.0, 4.0]]))
assert _np.allclose(_got, [0.8, 0.2]), f"variances 1 and 4 give weights [0.8, 0.2], got {_got}"

# %% points=1
import numpy as _np

_y = _np.random.default_rng(0).normal(scale=[1.0, 3.0, 0.5], size=(500, 3))
_got = _np.asarray(inverse_variance_weights(_y))
_inv = 1 / _y.var(axis=0)
assert _np.allclose(_got, _inv / _inv.sum()), "weights must be 1/variance, normalised to sum 1"
