"""Hidden checks of ex-05-8-2 (late-fusion weight chosen on validation), 4 points + 2 written."""
# %% points=1
# choose_alpha が MAE 最小の重みを選ぶ（正解と一致するモデルの重みは 1）
import numpy as np

rng = np.random.default_rng(3)
y = rng.normal(size=200)
a, b = y + 0.2 * rng.normal(size=200), y + 0.4 * rng.normal(size=200)
[float(choose_alpha([0.0, 1.0], [0.0, 1.0], [1.0, 0.0], np.linspace(0.0, 1.0, 11))),
 float(choose_alpha([0.0, 1.0], [1.0, 0.0], [0.0, 1.0], np.linspace(0.0, 1.0, 11))),
 float(choose_alpha(y, a, b, np.linspace(0.0, 1.0, 101)))]

# %% points=1
# MAE が同じ候補が複数あるときは、その中で最も小さい α を返す（候補は昇順とは限らない）
[float(choose_alpha([0.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.75, 0.25, 1.0, 0.5])),
 float(choose_alpha([0.0, 0.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 0.0]))]

# %% points=1
# alphas["val"] は検証データの予測で選んだ α（訓練データで選ぶと値が変わる）
float(alphas["val"])

# %% points=1
# alphas["train"] は訓練データの予測で選んだ α
float(alphas["train"])

# %% written points=2
# 2. α の意味（RF の予測をどれだけ信用するか）を検証データの値で解釈している: 1 点。
# 3. 訓練データでは RF が訓練データをほぼ覚えているため α が RF 寄りになり、テストでは
# 最適からずれる、と説明している: 1 点。
