"""Figures and the summary table of hybridlib.report.training_plots, on fabricated histories."""
from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from hybridlib.report import training_plots


def _history(values):
    return [{"epoch": e, "val_mae": [v], "lr": 1e-3} for e, v in enumerate(values, 1)]


def test_validation_curves_mark_the_best_epoch_of_each_run():
    fig = training_plots.validation_curves({"a": _history([0.5, 0.2, 0.3]),
                                            "b": _history([0.4, 0.35, 0.1])})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    assert [tuple(m.get_xydata()[0]) for m in markers] == [(2.0, 0.2), (3.0, 0.1)]
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        training_plots.validation_curves({})
    with pytest.raises(ValueError, match="no evaluations"):
        training_plots.validation_curves({"a": []})


def test_batch_norm_diagnostic_draws_both_curves_and_checks_lengths():
    fig = training_plots.batch_norm_diagnostic([1, 2, 3], [0.9, 0.5, 0.2], [0.4, 0.3, 0.2])
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="same"):
        training_plots.batch_norm_diagnostic([1, 2], [0.1], [0.1, 0.2])


def test_training_summary_reads_budget_and_best_epoch(monkeypatch):
    class FakeRun:
        metrics = {"e_form": {"mae": 0.1}}
        extra = {"best_epoch": 7, "epochs_run": 9, "steps_run": 90}
        train_seconds = 12.0

    import hybridlib.experiments as experiments

    monkeypatch.setattr(experiments, "run", lambda name, profile=None: FakeRun())
    table = training_plots.training_summary(["x"], labels={"x": "X"})
    assert table.loc["x"].to_dict() == {"model": "X", "mae": 0.1, "best_epoch": 7,
                                        "epochs_run": 9, "steps_run": 90, "train_time_s": 12.0}
