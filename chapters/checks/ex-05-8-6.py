"""Hidden checks of ex-05-8-6 (attention-weighted early fusion), 4 points."""
# %% points=1
import torch as _torch
import hybridlib as _hl
from torch_geometric.loader import DataLoader as _Loader

_torch.manual_seed(0)
_m = GatedFusion(_hl.models.CGCNN(hidden=8, n_conv=1), std_train[0].comp.shape[-1], 8)
_batch = next(iter(_Loader(std_train[:6], batch_size=6)))
_out = _m(_batch)
assert tuple(_out.shape) == (6, 1), f"forward must give (B, 1), got {tuple(_out.shape)}"

# %% points=1
_w = _m.source_weights(_batch)
assert tuple(_w.shape) == (6, 2), f"source_weights must give (B, 2), got {tuple(_w.shape)}"
assert _torch.allclose(_w.sum(dim=1), _torch.ones(6), atol=1e-5) and (_w >= 0).all(), (
    "source weights must be non-negative and sum to 1 per material")

# %% points=1
_m.zero_grad()
_m(_batch).sum().backward()
_grads = [p.grad for p in _m.gnn.parameters() if p.grad is not None]
assert _grads and any(g.abs().sum() > 0 for g in _grads), "the GNN must receive gradients"

# %% points=1
import torch as _torch

assert "gated" in globals() and isinstance(gated, GatedFusion), "train a GatedFusion into `gated`"
_wv = gated.eval().source_weights(next(iter(_Loader(std_val, batch_size=32))))
assert _torch.isfinite(_wv).all(), "the trained model gives non-finite weights"
