"""Learning-rate schedules as factors of the peak rate, one value per optimizer step.

A schedule is a pure function of the step and the total number of steps: the rate of step
``s`` does not depend on how training went, so nothing can cut it short. The trainer runs
every schedule to its last step and keeps the best-validation weights.

* ``"onecycle"``: warm-up from ``peak / 25`` to the peak over the first ``warmup`` fraction
  of the steps, then cosine annealing to ``peak / 25 / 10⁴`` (the rates of PyTorch's
  ``OneCycleLR``, without its momentum cycling);
* ``"cosine"``: cosine annealing from the peak to zero, no warm-up;
* ``"constant"``: the peak throughout.

Introduced in: chapter 5.2.
"""
from __future__ import annotations

import math

__all__ = ["SCHEDULES", "lr_factor"]

SCHEDULES = ("onecycle", "cosine", "constant")
_START = 1 / 25          # OneCycleLR's div_factor
_END = _START / 1e4      # ... and final_div_factor


def _cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def lr_factor(step: int, total: int, schedule: str = "onecycle", warmup: float = 0.3) -> float:
    """Factor of the peak learning rate for optimizer step ``step`` (0-based) of ``total``.

    Raises:
        ValueError: unknown schedule, ``total < 1`` or ``warmup`` outside [0, 1).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if total < 1 or not 0 <= warmup < 1:
        raise ValueError(f"need total >= 1 and 0 <= warmup < 1, got {total}, {warmup}")
    if schedule == "constant":
        return 1.0
    last = max(total - 1, 1)
    step = min(max(step, 0), last)
    if schedule == "cosine":
        return _cosine(1.0, 0.0, step / last)
    peak = round(warmup * last)
    if step < peak:
        return _cosine(_START, 1.0, step / peak)
    return _cosine(1.0, _END, (step - peak) / max(last - peak, 1))
