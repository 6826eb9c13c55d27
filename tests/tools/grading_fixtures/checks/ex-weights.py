"""Hidden checks of exercise ex-weights (inverse-std task weights), 2 points."""
# %% points=2
import numpy as _np

assert _np.allclose(inverse_std_weights([1.0, 1.0, 2.0]), [0.4, 0.4, 0.2]), (
    "weights must be proportional to 1 / std and sum to one"
)
assert _np.allclose(weights, [4 / 7, 3 / 7]), f"weights = {weights}, expected [4/7, 3/7]"
