"""Task weighting modules (hybridlib.models.multitask) and the multitask experiment helpers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from hybridlib.models.multitask import SEED_WEIGHTS, FixedWeights, UncertaintyWeighting


def test_fixed_weights_combine_losses_linearly():
    weighting = FixedWeights([2.0, 0.5])
    losses = torch.tensor([3.0, 4.0])
    assert weighting(losses).item() == pytest.approx(2.0 * 3.0 + 0.5 * 4.0)
    assert FixedWeights.equal(2)(losses).item() == pytest.approx(7.0)
    assert FixedWeights.seed().weights.tolist() == pytest.approx(list(SEED_WEIGHTS))
    assert str(weighting) == "FixedWeights([2, 0.5])"


def test_inverse_std_weights_equalise_l1_losses():
    """lambda_k ~ 1/sigma_k: the weighted L1 losses of a constant relative error are equal
    (power=2, inverse variance, does that for squared errors)."""
    rng = np.random.default_rng(0)
    targets = np.column_stack([rng.normal(0, 1.0, 5000), rng.normal(3, 4.0, 5000)])
    targets[::7, 1] = np.nan  # missing band gaps are ignored
    weights = FixedWeights.inverse_std(targets).weights.numpy()
    std = np.nanstd(targets, axis=0)
    assert weights.sum() == pytest.approx(2.0)
    assert weights[0] / weights[1] == pytest.approx(std[1] / std[0], rel=1e-5)
    assert weights[0] / weights[1] == pytest.approx(4.0, rel=0.1)
    l1 = 0.1 * std  # the same error, 10 % of each target's spread
    assert weights[0] * l1[0] == pytest.approx(weights[1] * l1[1], rel=1e-5)
    squared = FixedWeights.inverse_std(targets, power=2).weights.numpy()
    assert squared[0] / squared[1] == pytest.approx((std[1] / std[0]) ** 2, rel=1e-5)


@pytest.mark.parametrize("bad", [[1.0, -1.0], [0.0, 1.0], [1.0, math.nan], []])
def test_fixed_weights_reject_bad_values(bad):
    with pytest.raises(ValueError, match="weights"):
        FixedWeights(bad)


def test_inverse_std_rejects_constant_target():
    with pytest.raises(ValueError, match="spread"):
        FixedWeights.inverse_std(np.column_stack([np.arange(5.0), np.ones(5)]))


def test_weightings_check_the_number_of_tasks():
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        FixedWeights.equal(2)(torch.ones(3))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        UncertaintyWeighting(3)(torch.ones(2))


def test_uncertainty_loss_formula_and_initial_weights():
    weighting = UncertaintyWeighting(2)
    assert weighting.weights.tolist() == [1.0, 1.0]
    with torch.no_grad():
        weighting.log_vars.copy_(torch.tensor([0.5, -1.0]))
    losses = torch.tensor([2.0, 3.0])
    expected = math.exp(-0.5) * 2.0 + 0.5 + math.exp(1.0) * 3.0 - 1.0
    assert weighting(losses).item() == pytest.approx(expected, rel=1e-6)
    assert weighting.weights.tolist() == pytest.approx([math.exp(-0.5), math.exp(1.0)])
    assert str(weighting) == "UncertaintyWeighting(n_tasks=2)"


def test_uncertainty_weights_converge_to_inverse_losses():
    """With the losses held fixed, the optimum is exp(s_k) = L_k, i.e. lambda_k = 1 / L_k."""
    weighting = UncertaintyWeighting(2)
    optimizer = torch.optim.Adam(weighting.parameters(), lr=0.05)
    losses = torch.tensor([0.1, 2.0])
    for _ in range(800):
        optimizer.zero_grad()
        weighting(losses).backward()
        optimizer.step()
    assert weighting.weights.tolist() == pytest.approx([10.0, 0.5], rel=0.02)


def _two_task_problem(seed: int):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 4, generator=generator)
    w = torch.randn(4, 2, generator=generator)
    noise = torch.randn(512, 2, generator=generator) * torch.tensor([0.05, 2.0])
    y = x @ w * torch.tensor([1.0, 10.0]) + noise  # task 2: 10x the scale, 40x the noise
    return x, y


def _train_jointly(seed: int, steps: int = 600):
    torch.manual_seed(seed)
    x, y = _two_task_problem(seed)
    model = torch.nn.Linear(4, 2)
    weighting = UncertaintyWeighting(2)
    optimizer = torch.optim.Adam([*model.parameters(), *weighting.parameters()], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        per_task = (model(x) - y).abs().mean(dim=0)
        weighting(per_task).backward()
        optimizer.step()
    return model, weighting, (model(x) - y).abs().mean(dim=0).detach()


def test_learned_weights_follow_the_loss_scales():
    _, weighting, final_losses = _train_jointly(seed=0)
    weights = weighting.weights
    assert final_losses[1] > 10 * final_losses[0]
    assert weights[0] > 10 * weights[1]  # the noisy, large-scale task is down-weighted
    assert (weights * final_losses).tolist() == pytest.approx([1.0, 1.0], rel=0.05)  # 1/L_k
    trajectory = np.asarray(weighting.trajectory)
    assert trajectory.shape == (600, 2)
    assert trajectory[0].tolist() == [1.0, 1.0]
    assert trajectory[-1, 0] > trajectory[0, 0] and trajectory[-1, 1] < trajectory[0, 1]


def test_joint_training_is_deterministic_with_a_seed():
    first = _train_jointly(seed=3, steps=50)
    second = _train_jointly(seed=3, steps=50)
    assert torch.equal(first[0].weight, second[0].weight)
    assert torch.equal(first[1].log_vars, second[1].log_vars)


def test_trajectory_is_recorded_only_while_training():
    weighting = UncertaintyWeighting(2)
    weighting.eval()
    weighting(torch.ones(2))
    with torch.no_grad():
        weighting.train()(torch.ones(2))
    assert weighting.trajectory == []


def test_band_gap_by_class_splits_metals_and_nonmetals():
    from hybridlib.experiments.multitask import band_gap_by_class

    predictions = pd.DataFrame({
        "material_id": list("abcde"), "split": ["test"] * 4 + ["val"],
        "band_gap": [0.0, 0.0, 2.0, 4.0, 0.0], "band_gap_pred": [0.2, 0.4, 1.0, 4.5, 9.0]})
    result = band_gap_by_class(predictions)
    assert result["metal"] == {"mae": pytest.approx(0.3), "n": 2}
    assert result["nonmetal"] == {"mae": pytest.approx(0.75), "n": 2}


def test_multitask_experiments_are_distinct_runs_of_their_own_models():
    """Each name is its own run (no two share a key, as a name registered twice over one
    runner would) and its key follows the source of the model it trains."""
    import hybridlib as hl

    names = {"megnet_e_form": "models.megnet", "megnet_band_gap": "models.megnet",
             "megnet_e_form_embedding": "models.megnet",
             "megnet_state_fusion": "models.megnet",
             "megnet_mt_equal": "models.multitask", "megnet_mt_invstd": "models.multitask",
             "megnet_mt_seed": "models.multitask", "megnet_mt_uncertainty": "models.multitask",
             "alignn": "models.alignn", "alignn_simple": "models.alignn"}
    keys = {name: hl.experiments.experiment_key(name, "ci") for name in names}
    assert len(set(keys.values())) == len(names)
    runners = {hl.experiments._lookup(name).runner for name in names}
    assert len(runners) == len(names)
    for name, module in names.items():
        modules = set(hl.experiments._lookup(name).modules)
        assert module in modules and "train.loop" in modules, (name, sorted(modules))
