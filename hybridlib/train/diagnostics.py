"""Diagnostics of a training run: batch-norm statistics.

A batch norm normalises with the statistics of the current batch while training and with
running averages of them (momentum 0.1) in evaluation. When the distribution of its input
moves quickly — large learning rates, inputs that grow during training — the running
averages lag behind, and the model evaluated on the validation set is not the model that
was trained. :func:`recalibrated_batch_norm` recomputes the statistics of the same weights
on the training data; :func:`batch_norm_input_scale` measures how large the inputs of the
batch norms have become.

Introduced in: chapter 5.4.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

__all__ = ["recalibrated_batch_norm", "batch_norm_input_scale"]


def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _batches(graphs: Sequence, batch_size: int):
    from torch_geometric.loader import DataLoader

    return DataLoader(list(graphs), batch_size=batch_size, shuffle=False)


@torch.no_grad()
def recalibrated_batch_norm(model: nn.Module, graphs: Sequence, batch_size: int = 64,
                            device="cpu") -> nn.Module:
    """A copy of ``model`` whose batch-norm running statistics are the average over
    ``graphs`` (the training set) of the batch statistics of the current weights.

    Only the statistics change (``momentum=None``: an equal-weight average over the
    batches); weights and the model passed in are untouched. The copy is in eval mode.
    """
    copy_ = copy.deepcopy(model)
    norms = _batch_norms(copy_)
    if not norms:
        raise ValueError(f"{type(model).__name__} has no batch norm to recalibrate")
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    copy_.train()
    for module in copy_.modules():  # statistics only: no dropout while recalibrating
        if isinstance(module, nn.Dropout):
            module.eval()
    for batch in _batches(graphs, batch_size):
        copy_(batch.to(device))
    return copy_.eval()


@torch.no_grad()
def batch_norm_input_scale(model: nn.Module, graphs: Sequence, batch_size: int = 64,
                           device="cpu") -> list[float]:
    """Standard deviation of the input of each batch norm on the first batch of ``graphs``
    (model in training mode, as during a training step; restored afterwards)."""
    scales: dict[int, float] = {}
    norms = _batch_norms(model)
    hooks = [norm.register_forward_pre_hook(
        lambda module, inputs, k=k: scales.__setitem__(k, float(inputs[0].std())))
        for k, norm in enumerate(norms)]
    was_training = model.training
    state = [(n.running_mean.clone(), n.running_var.clone(), n.num_batches_tracked.clone())
             for n in norms]
    try:
        model.train()
        model(next(iter(_batches(graphs, batch_size))).to(device))
    finally:
        for hook in hooks:
            hook.remove()
        for norm, (mean, var, count) in zip(norms, state):  # a measurement, not a step
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.num_batches_tracked.copy_(count)
        model.train(was_training)
    return [scales[k] for k in range(len(norms))]
