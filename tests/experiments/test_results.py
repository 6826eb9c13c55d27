"""Tests of the run registry (hybridlib.results) and the experiment runner (hl.experiments)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import hybridlib as hl
from hybridlib import cache, results
from hybridlib.experiments import Outcome, experiment_key, learning_curve, register, run

CALLS: list[str] = []


def _frame(size: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(size)
    y = rng.normal(size=2 * size)
    return pd.DataFrame({"material_id": [f"mp-{i}" for i in range(2 * size)],
                         "split": ["val"] * size + ["test"] * size,
                         "e_form": y, "e_form_pred": y + shift})


def _toy(ctx):
    CALLS.append("toy")
    size = ctx.profile.data.train_size or 4
    return Outcome(_frame(size, 0.5), train_seconds=1.5, extra={"n_train": size})


def _toy_child(ctx):
    CALLS.append("child")
    parent = ctx.run("_toy").predictions
    return Outcome(parent.assign(e_form_pred=parent["e_form"]), train_seconds=0.0)


@pytest.fixture(autouse=True)
def _toy_experiments():
    """Register the toy experiments for one test only (the global registry stays clean)."""
    register("_toy")(_toy)
    register("_toy_child", requires=("_toy",))(_toy_child)
    CALLS.clear()
    yield
    for name in ("_toy", "_toy_child"):
        hl.experiments._EXPERIMENTS.pop(name, None)


@pytest.fixture
def profile():
    return hl.config.get_profile("ci").with_(training={"steps": 10})


def test_miss_then_hit_returns_the_stored_run(profile, tmp_path):
    first = run("_toy", profile, registry=tmp_path)
    second = run("_toy", profile, registry=tmp_path)
    assert CALLS == ["toy"]  # the second call read the stored run
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    assert second.profile == profile and second.key == first.key
    assert second.metrics["e_form"]["mae"] == pytest.approx(0.5)
    assert second.extra["val_metrics"]["e_form"]["mae"] == pytest.approx(0.5)
    assert second.train_seconds == 1.5
    y_true, y_pred = second.arrays("e_form", "test")
    np.testing.assert_allclose(y_pred - y_true, 0.5)


def test_changed_profile_or_code_trains_again(profile, tmp_path, monkeypatch):
    run("_toy", profile, registry=tmp_path)
    run("_toy", profile.with_(training={"steps": 20}), registry=tmp_path)
    assert CALLS == ["toy", "toy"]
    monkeypatch.setattr(hl.experiments, "code_version", lambda modules=None: "changed")
    run("_toy", profile, registry=tmp_path)
    assert CALLS == ["toy", "toy", "toy"]
    assert len(results.Registry(tmp_path).entries("_toy")) == 3


def test_required_run_is_reused_and_its_key_enters_the_child_key(profile, tmp_path):
    run("_toy_child", profile, registry=tmp_path)
    run("_toy_child", profile, registry=tmp_path)
    assert CALLS == ["child", "toy"]
    other = profile.with_(seed=1)
    assert experiment_key("_toy_child", profile) != experiment_key("_toy_child", other)
    assert run("_toy_child", profile, registry=tmp_path).metrics["e_form"]["mae"] == 0.0


def _stored(profile, tmp_path):
    run("_toy", profile, registry=tmp_path)
    return results.Registry(tmp_path).entries("_toy")[0]


def test_checksum_mismatch_is_detected_and_rebuilt(profile, tmp_path):
    path = _stored(profile, tmp_path)
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(payload))
    with pytest.warns(UserWarning, match="checksum"):
        rebuilt = run("_toy", profile, registry=tmp_path)
    assert CALLS == ["toy", "toy"]
    assert rebuilt.metrics["e_form"]["mae"] == pytest.approx(0.5)
    run("_toy", profile, registry=tmp_path)
    assert CALLS == ["toy", "toy"]


def test_truncated_npz_with_matching_checksum_is_rebuilt(profile, tmp_path):
    path = _stored(profile, tmp_path)
    cache.atomic_write_bytes(path, path.read_bytes()[:200])
    with pytest.warns(UserWarning, match="cannot be decoded"):
        run("_toy", profile, registry=tmp_path)
    assert CALLS == ["toy", "toy"]


def test_bad_json_description_is_rebuilt(profile, tmp_path):
    path = _stored(profile, tmp_path)
    arrays = cache.load_arrays(path)
    arrays["meta"] = np.array("{not json")
    cache.save_arrays(path, **arrays)
    with pytest.warns(UserWarning, match="unreadable description"):
        run("_toy", profile, registry=tmp_path)
    assert CALLS == ["toy", "toy"]


def test_registry_round_trip_keeps_columns_and_profile(profile, tmp_path):
    frame = _frame(3, 0.1).assign(w_structure=0.25)
    stored = results.Run("x", profile, {"e_form": {"mae": 0.1}}, 2.0, frame,
                         {"alpha": 0.3, "curve": [1.0, 2.0]}, key="k1")
    registry = results.Registry(tmp_path)
    registry.save(stored)
    loaded = registry.load("x", "k1")
    pd.testing.assert_frame_equal(loaded.predictions, frame)
    assert loaded.profile == profile and loaded.extra == stored.extra
    assert json.dumps(loaded.metrics) == json.dumps(stored.metrics)
    with pytest.raises(FileNotFoundError):
        registry.load("x", "missing")


def test_code_version_depends_only_on_listed_modules(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "train.py").write_text("a = 1\n")
    (tmp_path / "plots.py").write_text("b = 1\n")
    (tmp_path / "models" / "cgcnn.py").write_text("c = 1\n")
    monkeypatch.setattr(results, "PACKAGE_DIR", tmp_path)
    before = results.code_version(["train", "models.cgcnn"])
    (tmp_path / "plots.py").write_text("b = 2\n")
    assert results.code_version(["train", "models.cgcnn"]) == before
    (tmp_path / "models" / "cgcnn.py").write_text("c = 2\n")
    assert results.code_version(["train", "models.cgcnn"]) != before
    assert results.code_version(["graphs"]) != results.code_version(["features"])


def test_experiment_sources_follow_the_imports():
    sources = hl.experiments._lookup("cgcnn").modules
    assert {"experiments.fusion", "experiments.common", "train", "models.cgcnn", "graphs",
            "graphs.dataset", "features", "config", "data", "results", "cache"} <= set(sources)
    assert not {"report.plots", "report.tables"} & set(sources)
    alignn = hl.experiments._lookup("alignn").modules
    assert "models.alignn" in alignn and "models.alignn" not in sources


def test_data_fingerprint_follows_file_content(tmp_path, monkeypatch):
    sample = tmp_path / hl.data.SAMPLE_FILE
    monkeypatch.setenv("HYBRIDLIB_DATA_DIR", str(tmp_path))
    sample.write_bytes(b"one")
    first = results.data_fingerprint("sample")
    sample.write_bytes(b"two!")
    assert results.data_fingerprint("sample") != first
    assert results.data_fingerprint("matbench") != first


def test_unknown_experiment_lists_the_available_ones():
    with pytest.raises(KeyError, match="available"):
        run("no_such_experiment")
    assert {"rf_magpie", "cgcnn", "late_fusion_val", "stacking"} <= set(hl.experiments.available())


def test_learning_curve_runs_each_size_once_and_ends_with_the_ordinary_run(profile, tmp_path,
                                                                           mp_sample, monkeypatch):
    monkeypatch.setattr(hl.data.dataset, "load_mp_sample", lambda *args, **kwargs: mp_sample)
    curve = learning_curve("_toy", [5, 10, 10_000], profile, registry=tmp_path)
    # sizes not smaller than the training split are replaced by the ordinary run (n_train 4)
    assert sorted(curve["train_size"]) == [4, 5, 10]
    assert curve["mae"].tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert CALLS == ["toy", "toy", "toy"]
    learning_curve("_toy", [5, 10], profile, registry=tmp_path)
    run("_toy", profile, registry=tmp_path)
    assert CALLS == ["toy", "toy", "toy"]


def test_a_frame_keys_runs_by_the_table_and_maps_single_targets(profile, tmp_path):
    from hybridlib.experiments import Frame, RunContext

    table = _frame(3, 0.0).rename(columns={"e_form": "band_gap"})[["material_id", "split",
                                                                   "band_gap"]]
    frame = Frame(table, ("band_gap",))
    run("_toy", profile, registry=tmp_path, frame=frame)
    run("_toy", profile, registry=tmp_path, frame=frame)
    context = RunContext("_toy", profile, results.Registry(tmp_path), tmp_path, frame)
    assert context.table() is table
    assert context.targets(["e_form"]) == ("band_gap",)
    with pytest.raises(ValueError, match="provides only"):
        context.targets(["e_form", "band_gap"])
    shifted = Frame(table.assign(band_gap=table["band_gap"] + 1), ("band_gap",))
    run("_toy", profile, registry=tmp_path, frame=shifted)
    assert CALLS == ["toy", "toy"]
    plain = RunContext("_toy", profile, results.Registry(tmp_path), tmp_path)
    assert plain.targets(["e_form", "band_gap"]) == ("e_form", "band_gap")
    with pytest.raises(ValueError, match="lacks columns"):
        Frame(table, ("e_form",))


# ----------------------------------------------------------- the run asked for, or none

def test_a_copied_run_file_is_not_served_as_another_run(profile, tmp_path):
    """The probe: a copied ``rf_ward`` file was served as ``rf_magpie``."""
    child = run("_toy_child", profile, registry=tmp_path)  # stores _toy (MAE 0.5) and child (0)
    registry = results.Registry(tmp_path)
    toy_file = registry.path("_toy", experiment_key("_toy", profile))
    shutil.copyfile(registry.path("_toy_child", child.key), toy_file)
    with pytest.warns(UserWarning, match=r"holds run '_toy_child'.*not the requested '_toy'"):
        served = run("_toy", profile, registry=tmp_path)
    assert served.name == "_toy" and served.metrics["e_form"]["mae"] == pytest.approx(0.5)
    assert CALLS == ["child", "toy", "toy"]
    with pytest.raises(results.RunMismatchError, match="mismatched: key, name"):
        shutil.copyfile(registry.path("_toy_child", child.key), toy_file)
        registry.load("_toy", experiment_key("_toy", profile))


def test_a_stored_run_with_another_profile_is_refused(profile, tmp_path):
    registry = results.Registry(tmp_path)
    registry.save(results.Run("x", profile, {}, 1.0, _frame(2, 0.0), key="k"))
    other = profile.with_(seed=7)
    with pytest.raises(results.RunMismatchError, match="mismatched: profile"):
        registry.load("x", "k", profile=other)
    assert registry.load("x", "k", profile=profile).profile == profile
    rebuilt = results.Run("x", other, {}, 2.0, _frame(2, 0.0), key="k")
    with pytest.warns(UserWarning, match="mismatched: profile"):
        assert registry.get_or_create("x", "k", lambda: rebuilt, profile=other).profile == other
    assert registry.load("x", "k").train_seconds == 2.0


def test_a_builder_returning_another_run_is_refused(profile, tmp_path):
    registry = results.Registry(tmp_path)
    wrong = results.Run("y", profile, {}, 1.0, _frame(2, 0.0), key="k")
    with pytest.raises(ValueError, match="returned run 'y'"):
        registry.get_or_create("x", "k", lambda: wrong)
    assert registry.entries() == []


@pytest.mark.parametrize("where", ["registry is a file", "parent is a file"])
def test_an_unusable_registry_path_fails_before_training(profile, tmp_path, where):
    """The probe: a registry path that is a file failed only after training, losing it."""
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    root = blocker if where == "registry is a file" else blocker / "runs"
    with pytest.raises(cache.CacheNotWritableError, match="blocker"):
        run("_toy", profile, registry=root)
    assert CALLS == []


REGISTRY_USER = """
    import sys, time
    import pandas as pd
    from hybridlib.config import get_profile
    from hybridlib.results import Registry, Run

    root, log, tag = sys.argv[1:4]

    def build():
        with open(log, "a") as handle:
            handle.write(tag + "\\n")
        time.sleep(2.0)
        frame = pd.DataFrame({"material_id": ["a"], "split": ["test"], "e_form": [0.0],
                              "e_form_pred": [1.0]})
        return Run("x", get_profile("ci"), {"trained_by": tag}, 2.0, frame, key="k")

    print("ready", flush=True)
    sys.stdin.readline()
    print(Registry(root).get_or_create("x", "k", build).metrics["trained_by"])
"""


def test_two_processes_asking_for_one_run_train_it_once(tmp_path, start_together):
    log = tmp_path / "trained.log"
    outputs = start_together(REGISTRY_USER, [[str(tmp_path / "runs"), str(log), tag]
                                             for tag in ("one", "two")])
    (trainer,) = log.read_text().split()
    assert [out.strip() for out, _ in outputs] == [trainer, trainer]
