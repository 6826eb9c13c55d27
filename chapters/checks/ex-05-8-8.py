"""Hidden checks of ex-05-8-8 (permutation importance of the fused input), 3 points + 2 written."""
# %% points=1
# 予測に使う列のブロックだけ MAE が増え、使わない列のブロックでは増えない
import numpy as np

X = np.c_[np.arange(60.0), np.ones(60), np.linspace(0, 1, 60)]
importance = permutation_importance(lambda X: X[:, 0], X, np.arange(60.0),
                                    {"used": slice(0, 1), "unused": slice(1, 3)}, 4, 0)
{str(name): float(value) for name, value in dict(importance).items()}

# %% verdict
assert sorted(got) == ["unused", "used"], "ブロックごとに 1 つの値を返してください"
assert got["used"] > 1.0, "予測に使う列を並べ替えると MAE が増えるはずです"
assert abs(got["unused"]) < 1e-12, "予測に使わない列を並べ替えても MAE は変わらないはずです"

# %% points=1
# ブロックのすべての列を同じ行の並べ替えでまとめて動かす（相関した列の組が壊れない）
import numpy as np

rng = np.random.default_rng(1)
a, b = rng.normal(size=300), rng.normal(size=300)
importance = permutation_importance(lambda X: X[:, 0] - X[:, 1] + X[:, 2], np.c_[a, a, b], b,
                                    {"pair": slice(0, 2), "b": slice(2, 3)}, 10, 0)
{str(name): float(value) for name, value in dict(importance).items()}

# %% verdict
assert abs(got["pair"]) < 1e-9, (
    "ブロックのすべての列に同じ行の並べ替えを使ってください（列ごとに別々に並べ替えると、"
    "同じ物質の列どうしの関係が壊れます）")
assert got["b"] > 0.5, "予測に使う列のブロックを並べ替えると MAE が増えるはずです"

# %% points=1
# 重要度は MAE の増加量（並べ替え後の MAE − 元の MAE）の繰り返しの平均
import numpy as np

X = np.random.default_rng(2).normal(size=(400, 2))
importance = permutation_importance(lambda X: X[:, 0], X, X[:, 0],
                                    {"x": slice(0, 1), "noise": slice(1, 2)}, 20, 0)
{str(name): float(value) for name, value in dict(importance).items()}

# %% verdict
assert abs(got["x"] - expected["x"]) <= 0.1 * expected["x"], (
    "MAE の増加量（並べ替え後の MAE − 元の MAE）の平均を返してください（二乗誤差や比ではなく）")
assert abs(got["noise"]) < 1e-12, "予測に使わない列を並べ替えても MAE は変わらないはずです"

# %% written points=2
# 2. 並べ替えは値の分布を保ったまま物質との対応だけを壊すこと: 1 点。ゼロ埋めは学習で見たことの
# ない（分布外の）入力になり、寄与ではなく分布外への反応を測ってしまうこと: 1 点。
