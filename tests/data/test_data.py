"""hybridlib.data: loading the real sample, bad input, joins, splits, Matbench code path."""
from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pandas as pd
import pytest

import hybridlib as hl
from hybridlib import data as hd

N_SAMPLE = 10_200


# ------------------------------------------------------------------ offline sample

def test_sample_table_schema_and_values(mp_sample):
    df = mp_sample
    assert len(df) == N_SAMPLE
    assert list(df.columns[:5]) == ["material_id", "formula", "structure", "e_form", "band_gap"]
    assert df["material_id"].is_unique
    # values documented in shared/data/README.md
    row = df.set_index("material_id").loc["mp-7"]  # first record of the file
    assert row["formula"] == "S"
    assert row["e_form"] == pytest.approx(0.0645005, abs=1e-6)
    assert row["band_gap"] == pytest.approx(2.4881, abs=1e-4)
    assert (df["band_gap"] == 0).mean() == pytest.approx(0.625, abs=0.001)
    assert df["n_sites"].between(1, 20).all()
    assert df["structure"].iat[0].composition.reduced_formula == df["formula"].iat[0]


def _write_records(path, records):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(records, handle)
    return path


@pytest.fixture()
def raw_records():
    with gzip.open(hd.data_dir() / hd.SAMPLE_FILE, "rt") as handle:
        return json.load(handle)[:20]


def test_missing_data_dir_explains_where_and_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDLIB_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(hd.DataNotFoundError) as err:
        hd.load_mp_sample()
    message = str(err.value)
    assert "nowhere" in message and "HYBRIDLIB_DATA_DIR" in message and "unset" in message


def test_truncated_gzip_names_the_file(tmp_path):
    good = (hd.data_dir() / hd.SAMPLE_FILE).read_bytes()
    bad = tmp_path / "truncated.json.gz"
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(hd.DataFormatError, match="truncated.json.gz"):
        hd.load_mp_sample(bad)


def test_corrupted_json_names_the_file(tmp_path):
    bad = tmp_path / "broken.json.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write('[{"material_id": "mp-1", ')
    with pytest.raises(hd.DataFormatError, match="broken.json.gz"):
        hd.load_mp_sample(bad)


def test_unparsable_structure_names_material(tmp_path, raw_records):
    raw_records[5]["structure"]["lattice"] = {"matrix": "not a matrix"}
    path = _write_records(tmp_path / "s.json.gz", raw_records)
    with pytest.raises(hd.DataFormatError, match=raw_records[5]["material_id"]):
        hd.load_mp_sample(path)


def test_bad_targets_dropped_with_count_or_strict_error(tmp_path, raw_records):
    raw_records[1]["e_form"] = math.nan
    raw_records[2]["band_gap"] = None
    raw_records[3]["e_form"] = math.inf
    path = _write_records(tmp_path / "t.json.gz", raw_records)
    with pytest.warns(UserWarning, match=r"3 of 20 rows"):
        df = hd.load_mp_sample(path)
    assert len(df) == 17
    assert not set(df["material_id"]) & {r["material_id"] for r in raw_records[1:4]}
    with pytest.raises(hd.DataFormatError, match="3 of 20"):
        hd.load_mp_sample(path, strict=True)


def test_all_targets_bad_is_an_empty_dataset_error(tmp_path, raw_records):
    for record in raw_records:
        record["e_form"] = None
    path = _write_records(tmp_path / "e.json.gz", raw_records)
    with pytest.warns(UserWarning), pytest.raises(hd.EmptyDatasetError):
        hd.load_mp_sample(path)


def test_missing_field_is_reported(tmp_path, raw_records):
    del raw_records[4]["band_gap"]
    path = _write_records(tmp_path / "f.json.gz", raw_records)
    with pytest.raises(hd.DataFormatError, match=f"{raw_records[4]['material_id']}.*band_gap"):
        hd.load_mp_sample(path)


# --------------------------------------------------------------------- splits

def test_split_is_deterministic_and_order_independent(mp_sample):
    ids = list(mp_sample["material_id"])
    a = hd.split_ids(ids, seed=0)
    b = hd.split_ids(list(reversed(ids)), seed=0)
    assert {k: set(v) for k, v in a.items()} == {k: set(v) for k, v in b.items()}
    assert sum(len(v) for v in a.values()) == len(ids)
    assert set(a["train"]).isdisjoint(a["test"]) and set(a["val"]).isdisjoint(a["test"])
    assert len(a["test"]) / len(ids) == pytest.approx(0.2, abs=0.02)
    assert len(a["val"]) / len(ids) == pytest.approx(0.1, abs=0.02)
    c = hd.split_ids(ids, seed=1)
    assert set(c["test"]) != set(a["test"])


def test_split_of_a_subset_agrees_with_the_whole(mp_sample):
    ids = list(mp_sample["material_id"])
    whole = hd.split_ids(ids)
    part = hd.split_ids(ids[::7])
    assert set(part["test"]) == set(whole["test"]) & set(ids[::7])


def test_bad_fractions_rejected():
    with pytest.raises(ValueError, match="fractions"):
        hd.split_ids(["a"], val_fraction=0.6, test_fraction=0.5)


def test_subsample_and_split_are_independent(mp_sample):
    profile = hl.config.get_profile("ci")
    df = hd.load_dataset(profile, source="sample")
    assert len(df) == profile.data.n_materials
    counts = df["split"].value_counts(normalize=True)
    assert counts["train"] == pytest.approx(0.7, abs=0.05)
    assert counts["test"] == pytest.approx(0.2, abs=0.05)
    again = hd.subsample(mp_sample.sample(frac=1.0, random_state=3), profile.data.n_materials)
    assert set(again["material_id"]) == set(df["material_id"])


# ---------------------------------------------------------------------- joins

def test_join_by_structure_recovers_ids_not_positions(mp_small):
    left = mp_small[["material_id", "structure", "e_form"]]
    right = mp_small[["material_id", "structure", "band_gap"]].sample(frac=1.0, random_state=7)
    right = right.iloc[: len(right) - 20]  # 20 materials have no partner
    joined = hd.join_by_structure(left, right, suffixes=("", "_gap"), report=False)
    assert joined.attrs["n_matched"] == len(right)
    assert (joined["material_id"] == joined["material_id_gap"]).all()
    truth = mp_small.set_index("material_id")["band_gap"]
    assert np.allclose(joined["band_gap_gap"], truth.loc[joined["material_id"]].to_numpy())


def test_join_resolves_colliding_keys_with_structure_matcher(mp_sample, monkeypatch):
    # polymorphs: same formula; force a key collision by coarse rounding of the volume
    groups = mp_sample.groupby("formula").filter(lambda g: len(g) >= 3)
    formula = groups["formula"].value_counts().index[0]
    poly = mp_sample[mp_sample["formula"] == formula].head(4)
    right = poly.iloc[::-1].reset_index(drop=True)
    monkeypatch.setattr(hd.joins, "structure_key",
                        lambda s, decimals=2: (s.composition.reduced_formula,))
    joined = hd.join_by_structure(poly, right, report=False)
    assert joined.attrs["n_collisions_checked"] >= 3
    assert (joined["material_id"] == joined["material_id_right"]).all()


def test_join_reports_match_count(mp_small, capsys):
    hd.join_by_structure(mp_small.head(10), mp_small.head(5))
    assert "5 matched of 10 left / 5 right" in capsys.readouterr().out


# ------------------------------------------------------------- Matbench path

def test_matbench_fold_through_injected_task(mp_small):
    task = hd.injected_task("matbench_mp_e_form", mp_small)
    fold = hd.load_matbench_fold("matbench_mp_e_form", 2, "full", task=task)
    assert len(fold.train) + len(fold.test) == len(mp_small)
    assert set(fold.train["material_id"]).isdisjoint(fold.test["material_id"])
    expected = mp_small.set_index("material_id").loc[fold.test["material_id"], "e_form"]
    assert np.allclose(fold.test["e_form"], expected)
    assert list(fold.test.columns) == ["material_id", "formula", "structure", "e_form"]
    # the five official-recipe folds partition the data
    tests = [set(hd.load_matbench_fold("matbench_mp_e_form", k, "full", task=task).test["material_id"])
             for k in range(5)]
    assert set().union(*tests) == set(mp_small["material_id"])
    assert sum(len(t) for t in tests) == len(mp_small)


def test_matbench_subsample_by_profile(mp_small):
    task = hd.injected_task("matbench_mp_gap", mp_small)
    profile = hl.config.get_profile("ci").with_(data={"n_materials": 100})
    fold = hd.load_matbench_fold("matbench_mp_gap", 0, profile, task=task)
    assert len(fold.train) + len(fold.test) == 100
    assert fold.target == "band_gap"


def test_matbench_cache_roundtrip_and_corruption(tmp_path, mp_small):
    """A cached copy is read instead of downloading; a corrupted one is re-fetched."""
    from matbench.task import MatbenchTask

    cache = tmp_path / "mb"
    source = hd.injected_task("matbench_mp_e_form", mp_small.head(30))
    calls = []

    def fake_load(self):  # stands in for the network download
        calls.append(1)
        self.df = source.df

    task = hd.injected_task("matbench_mp_e_form", mp_small.head(30))
    task.df = None
    MatbenchTask.load, original = fake_load, MatbenchTask.load
    try:
        hd.matbench._cached_task_df(task, cache)
        assert calls == [1] and (cache / "matbench_mp_e_form.json.gz").is_file()
        task.df = None
        hd.matbench._cached_task_df(task, cache)
        assert calls == [1] and len(task.df) == 30
        (cache / "matbench_mp_e_form.json.gz").write_bytes(b"\x1f\x8b garbage")
        task.df = None
        with pytest.warns(UserWarning, match="unreadable"):
            hd.matbench._cached_task_df(task, cache)
        assert calls == [1, 1]
    finally:
        MatbenchTask.load = original


def test_unknown_task_and_source_rejected():
    with pytest.raises(ValueError, match="unsupported task"):
        hd.load_matbench_fold("matbench_dielectric", 0)
    with pytest.raises(ValueError, match="unknown source"):
        hd.load_dataset("ci", source="web")


def test_official_folds_shipped_with_matbench():
    from matbench.bench import MatbenchBenchmark

    mb = MatbenchBenchmark(autoload=False, subset=["matbench_mp_e_form"])
    task = mb.tasks_map["matbench_mp_e_form"]
    assert task.folds == [0, 1, 2, 3, 4]
    test0 = task.validation[task.folds_map[0]].test
    assert len(test0) == pytest.approx(132_752 / 5, abs=1)
    assert str(test0[0]).startswith("mb-mp-e-form-")


# -------------------------------------------------------------------- profiles

def test_profiles_and_env(monkeypatch):
    assert {"ci", "book", "full"} <= set(hl.config.PROFILES)
    monkeypatch.setenv("HYBRIDLIB_PROFILE", "full")
    assert hl.config.get_profile().name == "full"
    assert hl.config.get_profile("CI").name == "ci"
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        hl.config.get_profile("fast")
    ci, book = hl.config.get_profile("ci"), hl.config.get_profile("book")
    assert ci.data.n_materials < book.data.n_materials <= 10_200
    assert ci.training.epochs <= book.training.epochs
    assert max(ci.learning_curve_sizes) <= ci.data.n_materials * (
        1 - ci.data.val_fraction - ci.data.test_fraction)


def test_unit_hash_purposes_are_independent():
    ids = [f"mp-{i}" for i in range(2000)]
    low = [i for i in ids if hd.splits._unit_hash(i, 0, "subsample") < 0.1]
    share_test = np.mean([hd.splits._unit_hash(i, 0, "split") < 0.2 for i in low])
    assert share_test == pytest.approx(0.2, abs=0.07)
