"""Hidden checks of exercise ex-weights (inverse-std task weights), 2 points + 1 written."""
# %% points=1
# inverse_std_weights が 1 / 標準偏差に比例し、和が 1 の重みを返す
import numpy as np

np.asarray(inverse_std_weights([1.0, 1.0, 2.0]), dtype=float)

# %% points=1
# weights に生成エネルギー（1.5）とバンドギャップ（2.0）の重みが入っている
import numpy as np

np.asarray(weights, dtype=float)

# %% written points=1
# 「尺度の大きいタスク（バンドギャップ）の損失が全体を支配する」趣旨なら 1 点。
