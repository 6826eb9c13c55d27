"""Offline end-to-end test of the Matbench runner: the shared sample fed through Matbench's API."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

import hybridlib as hl
from tools.matbench_run import fold_frame, main, run_matbench


def _results(path, task_name: str) -> dict:
    """Recorded folds of a results file (``from_file`` would check the official Matbench ids)."""
    with gzip.open(path, "rt") as handle:
        return json.load(handle)["tasks"][task_name]["results"]


@pytest.fixture(scope="module")
def sample(mp_sample):
    return hl.data.subsample(mp_sample, 100, seed=0)


@pytest.fixture(scope="module")
def tiny():
    return hl.config.get_profile("ci").with_(
        training={"steps": 4, "batch_size": 32},
        model={"hidden": 8, "n_conv": 1, "rf_trees": 5})


def test_fold_frame_splits_validation_off_the_training_part(sample, tiny):
    task = hl.data.injected_task("matbench_mp_e_form", sample)
    frame = fold_frame(task, 1, tiny)
    fold = task.validation["fold_1"]
    assert frame.loc[frame.split == "test", "material_id"].tolist() == list(fold.test)
    assert set(frame.loc[frame.split != "test", "material_id"]) == set(fold.train)
    n_val = (frame.split == "val").sum()
    assert 0 < n_val < (frame.split == "train").sum()


def test_records_every_fold_and_writes_a_readable_results_file(sample, tiny, tmp_path):
    task = hl.data.injected_task("matbench_mp_gap", sample)
    path = run_matbench("rf_magpie", "matbench_mp_gap", tiny, out=tmp_path, task=task,
                        registry=tmp_path / "runs")
    assert path == tmp_path / "results.json.gz" and path.is_file()
    task.validate()  # Matbench's own completeness and id checks, against the injected folds
    results = _results(path, "matbench_mp_gap")
    assert set(results) == {f"fold_{k}" for k in range(5)}
    recorded = results["fold_0"]["data"]
    truth = sample.set_index("material_id")["band_gap"]
    ids = list(task.validation["fold_0"].test)
    assert set(recorded) == set(ids) and len(recorded) == len(ids)
    mae = np.mean([abs(recorded[i] - truth[i]) for i in ids])
    assert results["fold_0"]["scores"]["mae"] == pytest.approx(mae)
    assert results["fold_0"]["parameters"]["model"] == "rf_magpie"


def test_command_line_runs_a_graph_model_offline(tmp_path, monkeypatch, mp_sample):
    monkeypatch.setattr(hl.data, "load_mp_sample", lambda *a, **k: mp_sample)
    path = main(["--model", "cgcnn", "--task", "matbench_mp_e_form", "--sample", "60",
                 "--folds", "0", "--out", str(tmp_path), "--profile", "ci"])
    results = _results(path, "matbench_mp_e_form")
    assert {fold for fold, entry in results.items() if entry.get("data")} == {"fold_0"}
    recorded, parameters = results["fold_0"]["data"], results["fold_0"]["parameters"]
    task = hl.data.injected_task("matbench_mp_e_form", hl.data.subsample(mp_sample, 60))
    ids = list(task.validation["fold_0"].test)
    assert set(recorded) == set(ids) and len(recorded) == len(ids)
    # each recorded prediction is the stored run's prediction for that very material
    stored = hl.results.Registry().load("cgcnn", parameters["run_key"]).predictions
    stored = stored[stored["split"] == "test"].set_index("material_id")["e_form_pred"]
    np.testing.assert_allclose(list(recorded.values()), stored.loc[list(recorded)], rtol=1e-6)
    truth = mp_sample.set_index("material_id")["e_form"]
    assert results["fold_0"]["scores"]["mae"] == pytest.approx(
        np.mean([abs(value - truth[i]) for i, value in recorded.items()]))


def test_unknown_model_or_task_is_refused(sample, tiny):
    with pytest.raises(ValueError, match="unknown model"):
        run_matbench("no_model", "matbench_mp_e_form", tiny)
    with pytest.raises(ValueError, match="unsupported task"):
        run_matbench("cgcnn", "matbench_dielectric", tiny)
