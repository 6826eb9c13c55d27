"""Hidden checks of ex-05-8-7 (negative transfer), 2 points + 2 written."""
# %% points=1
# マルチタスクの MAE が大きいタスクだけが True になる
dict(negative_transfer({"a": 1.0, "b": 1.0}, {"a": 1.2, "b": 0.8}))

# %% points=1
# MAE が等しいタスクは負の転移ではない（3 タスク）
dict(negative_transfer({"e_form": 0.1, "band_gap": 0.3, "x": 2.0},
                       {"e_form": 0.1, "band_gap": 0.31, "x": 1.5}))

# %% written points=2
# 3. 負の転移への対策を 3 つ挙げている（例：相関の高いタスクだけをまとめる、共有層とタスク固有
# 層の深さを変える、重みを学習させる／勾配を調整する）: 3 つで 2 点、1〜2 つで 1 点。
