"""Hidden checks of ex-05-8-8 (permutation importance of the fused input), 3 points."""
# %% points=1
import numpy as _np

_X = _np.c_[_np.arange(60.0), _np.ones(60), _np.linspace(0, 1, 60)]
_imp = permutation_importance(lambda X: X[:, 0], _X, _np.arange(60.0),
                              {"used": slice(0, 1), "unused": slice(1, 3)}, 4, 0)
assert set(_imp) == {"used", "unused"}, f"one entry per block expected, got {sorted(_imp)}"
assert _imp["used"] > 1.0, "shuffling the only used column must raise the MAE"
assert abs(_imp["unused"]) < 1e-12, "shuffling unused columns must not change the MAE"

# %% points=2
import numpy as _np

_rng = _np.random.default_rng(1)
_X = _rng.normal(size=(200, 4))
_y = 3 * _X[:, 0] + _X[:, 1]
_imp = permutation_importance(lambda X: 3 * X[:, 0] + X[:, 1], _X, _y,
                              {"a": slice(0, 2), "b": slice(2, 4)}, 10, 0)
assert _imp["a"] > 1.0 and abs(_imp["b"]) < 1e-12, (
    "block a drives the prediction, block b not: importances should reflect that")
