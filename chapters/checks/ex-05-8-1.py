"""Hidden checks of ex-05-8-1 (fused dimension and regularization), 4 points."""
# %% points=2
import hybridlib as _hl

for _preset, _emb in (("magpie", 256), ("ward2016", 256), ("magpie", 64)):
    _expected = len(_hl.features.feature_labels(_preset)) + _emb
    _got = fused_dimension(_preset, _emb)
    assert _got == _expected, f"fused_dimension({_preset!r}, {_emb}) gave {_got}, expected {_expected}"

# %% points=1
_model = regularized_model(train_g)
assert type(_model).__name__ == "EarlyFusion", "regularized_model must return hl.models.EarlyFusion"
assert _model.dropout >= 0.3, f"dropout is {_model.dropout}; the exercise asks for at least 0.3"

# %% points=1
assert regularized_config.weight_decay >= 1e-4, (
    f"regularized_config.weight_decay is {regularized_config.weight_decay}; at least 1e-4 asked")
