"""Hidden checks of ex-05-8-6 (attention-weighted early fusion), 4 points + 1 written."""
# %% points=1
# forward は (B, 1)、source_weights は (B, 2) で、各行が和 1 の非負の重み
import torch
import hybridlib as hl
from torch_geometric.loader import DataLoader

torch.manual_seed(0)
model = GatedFusion(hl.models.CGCNN(hidden=8, n_conv=1), std_train[0].comp.shape[-1], 8)
batch = next(iter(DataLoader(std_train[:6], batch_size=6)))
with torch.no_grad():
    out, weights = model(batch), model.source_weights(batch)
{"out": out, "weights": weights}

# %% verdict
assert got["out"].shape == (6, 1), f"forward の出力の形が {got['out'].shape} です。(6, 1) のはずです"
w = got["weights"]
assert w.shape == (6, 2), f"source_weights の形が {w.shape} です。(6, 2) のはずです"
assert np.all(np.isfinite(w)) and np.all(w >= -1e-7), "重みは有限の非負の値にしてください"
assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5), "各物質の重みの和を 1 にしてください"

# %% points=1
# 重みは物質ごとに変わる（入力から計算されている）
import torch
import hybridlib as hl
from torch_geometric.loader import DataLoader

torch.manual_seed(1)
model = GatedFusion(hl.models.CGCNN(hidden=8, n_conv=1), std_train[0].comp.shape[-1], 8)
with torch.no_grad():
    weights = model.source_weights(next(iter(DataLoader(std_train[:16], batch_size=16))))
weights

# %% verdict
assert got.shape == (16, 2), f"source_weights の形が {got.shape} です。(16, 2) のはずです"
assert got[:, 1].std() > 1e-6, "重みが物質によって変わっていません。射影からスコアを計算してください"

# %% points=1
# 予測が組成と、渡された GNN の両方に依存する（どちらにも勾配が流れる）
import torch
import hybridlib as hl
from torch_geometric.loader import DataLoader

torch.manual_seed(2)
gnn = hl.models.CGCNN(hidden=8, n_conv=1)
model = GatedFusion(gnn, std_train[0].comp.shape[-1], 8)
batch = next(iter(DataLoader(std_train[:6], batch_size=6)))
batch.comp = batch.comp.clone().requires_grad_(True)
model(batch).sum().backward()
{"comp": float(batch.comp.grad.abs().sum()) if batch.comp.grad is not None else 0.0,
 "gnn": float(sum(p.grad.abs().sum() for p in gnn.parameters() if p.grad is not None))}

# %% verdict
assert got["comp"] > 0, "予測が組成特徴量 batch.comp を使っていません"
assert got["gnn"] > 0, "渡された gnn に勾配が流れていません（gnn をそのまま部品として使ってください）"

# %% points=1
# 学習したモデル gated が検証データで有限の、和が 1 の重みを出す
import torch
from torch_geometric.loader import DataLoader

with torch.no_grad():
    weights = gated.eval().source_weights(next(iter(DataLoader(std_val, batch_size=32))))
{"class": type(gated).__name__, "weights": weights}

# %% verdict
assert got["class"] == "GatedFusion", "学習した GatedFusion を変数 gated に入れてください"
w = got["weights"]
assert w.ndim == 2 and w.shape[1] == 2 and np.all(np.isfinite(w)), "学習後の重みが有限ではありません"
assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5), "学習後の重みの和が 1 になっていません"

# %% written points=1
# 構造側の重み w_s の分布（平均と広がり）を示し、物質による使い分けの有無を述べている: 1 点。
