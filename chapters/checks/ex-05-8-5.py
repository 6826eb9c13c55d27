"""Hidden checks of ex-05-8-5 (choice of hybrid method), 3 points."""
# %% points=1
# choices のキーが A, B, C で値が候補の手法名、reasons がそれぞれ 20 文字以上の理由
{"keys": sorted(str(key) for key in choices),
 "values": sorted(str(value) for value in choices.values()),
 "reasons": [len(str(reasons[key]).strip()) for key in ("A", "B", "C")]}

# %% verdict
allowed = {"rf", "cgcnn", "early_fusion", "attention_fusion", "late_fusion", "stacking",
           "alignn", "megnet_multitask"}
assert got["keys"] == ["A", "B", "C"], 'choices のキーは "A", "B", "C" にしてください'
assert set(got["values"]) <= allowed, f"choices の値は {sorted(allowed)} から選んでください"
assert min(got["reasons"]) >= 20, "理由はそれぞれ 20 文字以上で書いてください"

# %% points=1
# シナリオ B（大規模データ・GPU 複数・最高精度）には線グラフのモデル
str(choices["B"])

# %% points=1
# シナリオ C（既存の RF と CGCNN を学習し直さずに統合）には予測を組み合わせる手法
str(choices["C"])

# %% verdict
assert got in ("late_fusion", "stacking"), (
    "シナリオ C では、既存の二つのモデルの予測を組み合わせる手法を選んでください")
