"""Tests of hybridlib.train: metrics, schedules, standardization, best weights, determinism, resume."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import global_mean_pool

import hybridlib as hl
from hybridlib import cache
from hybridlib.train import TrainConfig, TrainingInterrupted, fit, lr_factor, regression_metrics
from hybridlib.train.loop import _per_task_loss


def _graphs(n: int, n_targets: int = 1, seed: int = 0, nan_every: int = 0) -> list[Data]:
    """Small graphs whose targets are linear in the mean node feature (learnable)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        atoms = int(rng.integers(2, 6))
        x = torch.tensor(rng.normal(size=(atoms, 3)), dtype=torch.float32)
        m = x.mean(0)
        y = torch.stack([10.0 + 3.0 * m[0] - 2.0 * m[1], -5.0 + 0.5 * m[2]][:n_targets])
        if nan_every and i % nan_every == 0:
            y[-1] = math.nan
        out.append(Data(x=x, y=y.reshape(1, -1), num_nodes=atoms))
    return out


class MeanPoolMLP(nn.Module):
    """Tiny graph model: node MLP, mean pooling, linear output (with dropout)."""

    def __init__(self, n_targets: int = 1):
        super().__init__()
        self.node = nn.Sequential(nn.Linear(3, 16), nn.Softplus(), nn.Dropout(0.1))
        self.out = nn.Linear(16, n_targets)

    def embed(self, batch):
        return global_mean_pool(self.node(batch.x), batch.batch)

    def forward(self, batch):
        return self.out(self.embed(batch))


def _config(**changes) -> TrainConfig:
    base = dict(epochs=6, batch_size=16, lr=5e-2, weight_decay=0.0, seed=0)
    if "steps" in changes:
        base.pop("epochs")
    return TrainConfig(**{**base, **changes})


def _model(seed: int = 0, n_targets: int = 1) -> MeanPoolMLP:
    torch.manual_seed(seed)
    return MeanPoolMLP(n_targets)


@pytest.fixture(scope="module")
def data():
    return _graphs(96, seed=1), _graphs(32, seed=2)


def test_regression_metrics_values_and_nan_pairs():
    y = np.array([1.0, 2.0, 3.0, np.nan])
    p = np.array([1.5, 2.0, 2.0, 7.0])
    m = regression_metrics(y, p)
    assert m["n"] == 3
    assert m["mae"] == pytest.approx(0.5)
    assert m["rmse"] == pytest.approx(math.sqrt((0.25 + 0 + 1) / 3))
    assert m["r2"] == pytest.approx(1 - 1.25 / 2.0)
    assert regression_metrics(y[:3, None], p[:3, None])["mae"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one target"):
        regression_metrics(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="no pair"):
        regression_metrics([np.nan], [1.0])


def test_config_from_profile_and_validation():
    profile = hl.config.get_profile("ci")
    config = TrainConfig.from_profile(profile)
    assert (config.steps, config.epochs, config.batch_size, config.lr, config.seed) == (
        profile.training.steps, None, profile.training.batch_size, profile.training.lr,
        profile.training.seed)
    assert TrainConfig.from_profile(profile.with_(training={"seed": 2})).seed == 2
    by_epochs = TrainConfig.from_profile(profile, epochs=2)
    assert (by_epochs.steps, by_epochs.epochs) == (None, 2)
    assert TrainConfig.from_profile(profile, steps=10).n_epochs(4) == 3
    with pytest.raises(ValueError, match="schedule"):
        _config(schedule="step")
    with pytest.raises(ValueError, match="epochs"):
        _config(epochs=0)
    with pytest.raises(ValueError, match="exactly one budget"):
        TrainConfig(batch_size=4, lr=1e-3, weight_decay=0.0, seed=0, steps=10, epochs=2)


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_schedules_are_fixed_functions_of_the_step(schedule):
    total = 200
    factors = np.array([lr_factor(s, total, schedule) for s in range(total)])
    assert factors.max() == pytest.approx(1.0)
    if schedule == "constant":
        assert np.all(factors == 1.0)
        return
    peak = int(np.argmax(factors))
    assert peak == (round(0.3 * (total - 1)) if schedule == "onecycle" else 0)
    assert np.all(np.diff(factors[peak:]) <= 0) and factors[-1] < 1e-4
    if schedule == "onecycle":
        assert factors[0] == pytest.approx(1 / 25) and np.all(np.diff(factors[:peak + 1]) >= 0)
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(0, total, "step")


def test_fit_learns_and_restores_best_weights(data):
    train, val = data
    result = fit(_model(), train, val, _config(epochs=8), progress=False)
    y_val = np.concatenate([g.y.numpy() for g in val])
    mean_mae = np.abs(y_val - y_val.mean()).mean()
    val_mae = np.abs(result.predict(val) - y_val).mean()
    assert val_mae < 0.5 * mean_mae
    best = result.history[result.best_epoch - 1]
    assert best["epoch"] == result.best_epoch
    assert val_mae == pytest.approx(best["val_mae"][0], rel=1e-5)
    assert best["val_score"] == min(r["val_score"] for r in result.history)
    assert result.target_mean[0] == pytest.approx(
        np.concatenate([g.y.numpy() for g in train]).mean(), rel=1e-6)
    assert result.train_seconds == pytest.approx(sum(r["seconds"] for r in result.history))


def test_schedule_runs_to_its_end_although_validation_never_improves(data):
    """A model that stops improving at once (lr ~ 0) still trains every step of its
    schedule; the weights of the best evaluation (the first) are restored."""
    train, val = data
    result = fit(_model(), train, val, _config(epochs=12, lr=1e-12), progress=False)
    steps_per_epoch = len(train) // 16
    assert result.epochs == 12 and len(result.history) == 12
    assert result.steps == 12 * steps_per_epoch == result.history[-1]["step"]
    assert result.best_epoch == 1
    assert result.history[-1]["lr"] == pytest.approx(
        1e-12 * lr_factor(result.steps, result.steps), rel=1e-6)


def test_step_budget_is_the_same_for_every_training_size(data):
    """Budgets in steps: a smaller training set runs more epochs; validation passes are
    capped by max_evaluations and always include the last epoch."""
    train, val = data
    small = fit(_model(), train[:32], val, _config(steps=24, max_evaluations=5), progress=False)
    large = fit(_model(), train, val, _config(steps=24), progress=False)
    assert small.steps == large.steps == 24
    assert (small.epochs, large.epochs) == (12, 4)
    assert [r["epoch"] for r in small.history] == [3, 6, 9, 12]
    assert [r["epoch"] for r in large.history] == [1, 2, 3, 4]


def test_epochs_are_ranked_by_mae_over_training_std_even_unstandardized():
    """With standardize=False a target on a 100x larger scale must not pick the epoch."""
    train, val = _graphs(64, n_targets=2, seed=7), _graphs(16, n_targets=2, seed=8)
    for g in train + val:
        g.y = g.y * torch.tensor([[100.0, 1.0]])
    result = fit(_model(n_targets=2), train, val, _config(epochs=3, standardize=False),
                 progress=False)
    y = np.concatenate([g.y.numpy() for g in train])
    std = y.std(axis=0)
    for row in result.history:
        assert row["val_score"] == pytest.approx(np.mean(np.asarray(row["val_mae"]) / std),
                                                 rel=1e-5)


def test_same_seed_same_result_and_other_seed_differs(data):
    train, val = data
    runs = [fit(_model(0), train, val, _config(seed=s), progress=False) for s in (0, 0, 1)]
    np.testing.assert_array_equal(runs[0].predict(val), runs[1].predict(val))
    assert [r["train_loss"] for r in runs[0].history] == [r["train_loss"] for r in runs[1].history]
    assert not np.array_equal(runs[0].predict(val), runs[2].predict(val))


def test_interrupted_run_resumes_to_identical_result(data, tmp_path):
    train, val = data
    reference = fit(_model(), train, val, _config(), progress=False)

    def stop_after_two(row):
        if row["epoch"] == 2:
            raise TrainingInterrupted("simulated interruption")

    with pytest.raises(TrainingInterrupted):
        fit(_model(), train, val, _config(), checkpoint_dir=tmp_path, progress=False,
            callback=stop_after_two)
    epochs_seen = []
    resumed = fit(_model(seed=123), train, val, _config(), checkpoint_dir=tmp_path,
                  progress=False, callback=lambda row: epochs_seen.append(row["epoch"]))
    assert epochs_seen == [3, 4, 5, 6]
    assert len(resumed.history) == 6
    np.testing.assert_array_equal(resumed.predict(val), reference.predict(val))
    assert [r["val_mae"] for r in resumed.history] == [r["val_mae"] for r in reference.history]


def test_checkpoint_is_weights_only_and_corruption_restarts(data, tmp_path):
    train, val = data
    fit(_model(), train, val, _config(epochs=2), checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / "last.pt"
    saved = cache.load_tensors(path)  # checksum header, then torch.load(weights_only=True)
    assert saved["state"]["epoch"] == 2 and len(saved["state"]["history"]) == 2
    path.write_bytes(path.read_bytes()[:100])
    seen = []
    with pytest.warns(UserWarning, match="checksum"):
        fit(_model(), train, val, _config(epochs=2), checkpoint_dir=tmp_path, progress=False,
            callback=lambda row: seen.append(row["epoch"]))
    assert seen == [1, 2]


def test_checkpoint_of_other_settings_is_not_resumed(data, tmp_path):
    train, val = data
    fit(_model(), train, val, _config(epochs=2), checkpoint_dir=tmp_path, progress=False)
    seen = []
    with pytest.warns(UserWarning, match="another model or settings"):
        fit(_model(), train, val, _config(epochs=3), checkpoint_dir=tmp_path, progress=False,
            callback=lambda row: seen.append(row["epoch"]))
    assert seen == [1, 2, 3]


def test_missing_targets_are_masked_per_task():
    train, val = _graphs(64, n_targets=2, seed=3, nan_every=3), _graphs(16, n_targets=2, seed=4)
    result = fit(_model(n_targets=2), train, val, _config(epochs=3), progress=False)
    assert all(np.isfinite(r["train_loss"]) for r in result.history)
    y = np.concatenate([g.y.numpy() for g in train])
    assert result.target_mean[1] == pytest.approx(np.nanmean(y[:, 1]), rel=1e-6)
    assert result.predict(val).shape == (16, 2)


def test_per_task_loss_ignores_nan():
    pred = torch.tensor([[1.0, 0.0], [3.0, 1.0]])
    target = torch.tensor([[0.0, math.nan], [1.0, 3.0]])
    np.testing.assert_allclose(_per_task_loss(pred, target, "l1").numpy(), [1.5, 2.0])
    np.testing.assert_allclose(_per_task_loss(pred, target, "mse").numpy(), [2.5, 4.0])


def test_weighting_parameters_are_trained():
    class LearnedWeights(nn.Module):
        def __init__(self):
            super().__init__()
            self.log_var = nn.Parameter(torch.zeros(2))

        def forward(self, losses):
            return (torch.exp(-self.log_var) * losses + self.log_var).sum()

    weighting = LearnedWeights()
    train, val = _graphs(64, n_targets=2, seed=5), _graphs(16, n_targets=2, seed=6)
    for g in train + val:  # raw losses ~100: the optimal log-variance is ~ +4.6
        g.y = 100 * g.y
    fit(_model(n_targets=2), train, val, _config(epochs=2, weighting_lr=0.1, standardize=False),
        weighting=weighting, progress=False)
    # own parameter group at a constant rate, no warm-up: 8 Adam steps of ~0.1 each (inside
    # the model's one-cycle warm-up, starting at lr / 25, they would move it < 0.1)
    assert weighting.log_var.detach().min() > 0.5


def test_bad_inputs_raise_clear_errors(data):
    train, val = data
    with pytest.raises(ValueError, match="unknown loss"):
        fit(_model(), train, val, _config(), loss="huber")
    with pytest.raises(ValueError, match="does not match targets"):
        fit(_model(n_targets=2), train, val, _config(), progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(_model(), [], val, _config())


def test_quiet_progress_follows_environment(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYBRIDLIB_QUIET", raising=False)
    assert not hl.train.quiet_progress()
    monkeypatch.setenv("CI", "true")
    assert hl.train.quiet_progress()
    monkeypatch.setenv("CI", "0")
    monkeypatch.setenv("HYBRIDLIB_QUIET", "1")
    assert hl.train.quiet_progress()


def test_monitor_adds_its_measurements_to_every_history_row(data):
    train, val = data
    seen = []

    def monitor(model, evaluate):
        seen.append(model.training)
        return {"val_again": evaluate(model)["val_mae"], "n_params": 1}

    result = fit(_model(), train, val, _config(epochs=3), progress=False, monitor=monitor)
    assert len(seen) == 3 and not any(seen)  # called in eval mode, once per evaluation
    for row in result.history:
        assert row["val_again"] == pytest.approx(row["val_mae"]) and row["n_params"] == 1


def test_batch_norm_diagnostics_recalibrate_a_copy_and_measure_inputs():
    from hybridlib.train import batch_norm_input_scale, recalibrated_batch_norm

    class Normed(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 4)
            self.norm = nn.BatchNorm1d(4)

        def forward(self, batch):
            return global_mean_pool(self.norm(10 * self.lin(batch.x)), batch.batch)

    torch.manual_seed(0)
    model = Normed()
    graphs = _graphs(64, seed=9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fixed = recalibrated_batch_norm(model, graphs, batch_size=16)
    for key, value in model.state_dict().items():  # the original is untouched
        assert torch.equal(value, before[key]), key
    with torch.no_grad():  # momentum None: the plain average of the four batch means
        means = [(10 * model.lin(torch.cat([g.x for g in graphs[k:k + 16]]))).mean(0)
                 for k in range(0, 64, 16)]
    torch.testing.assert_close(fixed.norm.running_mean, torch.stack(means).mean(0),
                               rtol=1e-5, atol=1e-5)
    assert not fixed.training
    scales = batch_norm_input_scale(model, graphs, batch_size=16)
    first = torch.cat([g.x for g in graphs[:16]])
    with torch.no_grad():
        assert scales == [pytest.approx(float((10 * model.lin(first)).std()), rel=1e-5)]
    for key, value in model.state_dict().items():  # measuring is not a training step
        assert torch.equal(value, before[key]), key
    with pytest.raises(ValueError, match="no batch norm"):
        recalibrated_batch_norm(_model(), graphs)
