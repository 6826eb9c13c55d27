"""Hidden checks of ex-05-8-5 (choice of hybrid method), 3 points."""
# %% points=1
_allowed = {"rf", "cgcnn", "early_fusion", "attention_fusion", "late_fusion", "stacking",
            "alignn", "megnet_multitask"}
assert set(choices) == {"A", "B", "C"}, "choices needs the keys A, B, C"
assert set(choices.values()) <= _allowed, f"choices must come from {sorted(_allowed)}"
assert all(isinstance(reasons[_k], str) and len(reasons[_k].strip()) >= 20 for _k in "ABC"), (
    "each reason must be a sentence of at least 20 characters")

# %% points=1
assert choices["B"] == "alignn", "scenario B (large data, many GPUs, best accuracy): the line-graph model"

# %% points=1
assert choices["C"] in {"late_fusion", "stacking"}, (
    "scenario C (combine existing RF and CGCNN without retraining): a prediction-level fusion")
