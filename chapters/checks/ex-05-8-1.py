"""Hidden checks of ex-05-8-1 (fused dimension and regularization), 4 points + 2 written."""
# %% points=2
# fused_dimension が実際の特徴量の数から連結後の次元を計算する
[int(fused_dimension(preset, width))
 for preset, width in (("magpie", 256), ("ward2016", 256), ("magpie", 64), ("ward2016", 7))]

# %% points=1
# regularized_model が dropout 0.3 以上の hl.models.EarlyFusion を返す
import torch
from torch_geometric.loader import DataLoader

model = regularized_model(train_g)
batch = next(iter(DataLoader(train_g[:4], batch_size=4)))
model.eval()
with torch.no_grad():
    out = model(batch)
{"classes": [f"{c.__module__}.{c.__qualname__}" for c in type(model).__mro__],
 "dropout": [float(m.p) for m in model.modules() if isinstance(m, torch.nn.Dropout)],
 "shape": list(out.shape)}

# %% verdict
assert expected["classes"][0] in got["classes"], (
    "regularized_model は hl.models.EarlyFusion（またはその派生クラス）を返してください")
assert got["dropout"] and min(got["dropout"]) >= 0.3, "dropout の確率を 0.3 以上にしてください"
assert got["shape"] == expected["shape"], f"出力の形 {got['shape']} が (4, 1) ではありません"

# %% points=1
# regularized_config が weight decay 1e-4 以上の hl.train.TrainConfig である
{"classes": [f"{c.__module__}.{c.__qualname__}" for c in type(regularized_config).__mro__],
 "weight_decay": float(regularized_config.weight_decay)}

# %% verdict
assert expected["classes"][0] in got["classes"], (
    "regularized_config は hl.train.TrainConfig にしてください")
assert got["weight_decay"] >= 1e-4, "weight decay を 1e-4 以上にしてください"

# %% written points=2
# 3. の考察。正則化あり・なしの検証 MAE を実際に比べて述べている: 1 点。
# 小さなデータ・短い学習では差がばらつきに埋もれうること（種を変えた複数回の学習で確かめる
# べきこと）に触れている: 1 点。
