"""Training of the book's torch models: one loop, its schedules, regression metrics.

* :mod:`.loop`: :func:`fit` (the one training loop), :class:`TrainConfig`, :class:`FitResult`;
* :mod:`.schedule`: learning-rate schedules that always run to their end;
* :mod:`.metrics`: :func:`regression_metrics`;
* :mod:`.diagnostics`: batch-norm statistics recomputed on the training data, and the scale
  of the batch norms' inputs.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

from .loop import (LOSSES, FitResult, TrainConfig, TrainingInterrupted, fit,
                   quiet_progress, resolve_device, train_epoch)
from .diagnostics import batch_norm_input_scale, recalibrated_batch_norm
from .metrics import regression_metrics
from .schedule import SCHEDULES, lr_factor

__all__ = ["TrainConfig", "FitResult", "fit", "train_epoch", "regression_metrics",
           "resolve_device", "quiet_progress", "TrainingInterrupted", "lr_factor", "SCHEDULES",
           "LOSSES", "recalibrated_batch_norm", "batch_norm_input_scale"]
