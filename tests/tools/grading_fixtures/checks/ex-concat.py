"""Hidden checks of exercise ex-concat (early fusion by concatenation), 2 points."""
# %% points=1
import numpy as _np

_out = early_fusion(_np.zeros((3, 4)), _np.ones((3, 2)))
assert _out.shape == (3, 6), f"early_fusion gave shape {_out.shape}, expected (3, 6)"

# %% points=1
import numpy as _np

_comp, _emb = _np.arange(6.0).reshape(2, 3), -_np.arange(4.0).reshape(2, 2)
assert _np.array_equal(early_fusion(_comp, _emb), _np.hstack([_comp, _emb])), (
    "early_fusion must put comp first, then emb, row by row"
)
