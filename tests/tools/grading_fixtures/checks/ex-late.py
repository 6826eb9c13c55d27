"""Hidden checks of exercise ex-late (late-fusion weight), 3 points."""
# %% points=1
# late_fusion(y_a, y_b, alpha) が alpha * y_a + (1 - alpha) * y_b を返す
import numpy as np

np.asarray(late_fusion([1.0, -2.0], [3.0, 4.0], 0.2), dtype=float)

# %% points=2
# best_alpha が候補の中から MAE が最小になる重みを選ぶ
import numpy as np

rng = np.random.default_rng(0)
y = rng.normal(size=50)
a, b = y + 0.1 * rng.normal(size=50), y + 0.4 * rng.normal(size=50)
# 候補は平方根をとった格子：正解の値がどのファイルにも数字として書かれていない
float(best_alpha(a, b, y, np.sqrt(np.linspace(0.05, 0.95, 10))))
