"""Hidden checks of ex-05-8-7 (negative transfer), 2 points."""
# %% points=1
_got = negative_transfer({"a": 1.0, "b": 1.0}, {"a": 1.2, "b": 0.8})
assert _got == {"a": True, "b": False}, f"expected {{'a': True, 'b': False}}, got {_got}"

# %% points=1
_got = negative_transfer({"e_form": 0.1, "band_gap": 0.3}, {"e_form": 0.1, "band_gap": 0.31})
assert _got == {"e_form": False, "band_gap": True}, f"equal MAE is no negative transfer; got {_got}"
