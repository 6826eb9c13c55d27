"""Hidden checks of ex-05-8-4 (task weights from target scales), 2 points + 2 written."""
# %% points=1
# 分散 1 と 4 の 2 列で重み [0.8, 0.2]（分散の逆数に比例し、和が 1）
import numpy as np

np.asarray(inverse_variance_weights([[0.0, 0.0], [2.0, 4.0]]), dtype=float)

# %% points=1
# 3 列の目的変数でも、分散の逆数に比例し和が 1 の重みを返す
import numpy as np

y = np.random.default_rng(0).normal(scale=[1.0, 3.0, 0.5], size=(500, 3))
np.asarray(inverse_variance_weights(y), dtype=float)

# %% written points=2
# 2. λ1 = λ2 = 1 では尺度（分散）の大きいタスクの損失が勾配を支配する、と説明している: 1 点。
# 3. 学習した不確実性重みと比べ、似ている／違う理由に触れている: 1 点。
