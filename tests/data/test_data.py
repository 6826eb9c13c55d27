"""hybridlib.data: loading the real sample, bad input, joins, splits, Matbench code path."""
from __future__ import annotations

import copy
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


@pytest.fixture(scope="module")
def _first_records():
    with gzip.open(hd.data_dir() / hd.SAMPLE_FILE, "rt") as handle:
        return json.load(handle)[:20]


@pytest.fixture()
def raw_records(_first_records):
    """The sample's first 20 records, a fresh copy for each test to damage."""
    return copy.deepcopy(_first_records)


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


@pytest.mark.parametrize("target, value, message", [
    ("band_gap", -0.5, r"band_gap: 1 outside the possible range \[0, 50\].*= -0.5"),
    ("e_form", 1e30, r"e_form: 1 outside the possible range \[-10, 10\].*= 1e\+30"),
    ("e_form", -1e30, r"e_form: 1 outside the possible range"),
], ids=["negative-gap", "huge-energy", "huge-negative-energy"])
def test_impossible_targets_are_rejected_by_name(tmp_path, raw_records, target, value, message):
    """The probe: negative band gaps and 1e30 energies were accepted."""
    raw_records[6][target] = value
    name = raw_records[6]["material_id"]
    path = _write_records(tmp_path / "r.json.gz", raw_records)
    with pytest.warns(UserWarning, match=rf"1 of 20 rows have bad targets: {message}"):
        df = hd.load_mp_sample(path)
    assert name not in set(df["material_id"]) and len(df) == 19
    with pytest.raises(hd.DataFormatError, match=repr(name)):
        hd.load_mp_sample(path, strict=True)


def test_clean_targets_modes_and_bad_arguments():
    df = pd.DataFrame({"material_id": ["a", "b", "c", "d"], "e_form": [0.1, np.nan, 50.0, 0.2],
                       "band_gap": [1.0, 2.0, 3.0, np.inf]})
    with pytest.warns(UserWarning, match="3 of 4 rows"):
        assert hd.clean_targets(df, ["e_form", "band_gap"])["material_id"].tolist() == ["a"]
    with pytest.warns(UserWarning, match="impossible values of the others become NaN"):
        kept = hd.clean_targets(df, ["e_form", "band_gap"], how="all")
    assert kept["material_id"].tolist() == ["a", "b", "c", "d"]
    assert np.isnan(kept["e_form"].iat[2]) and kept["band_gap"].iat[2] == 3.0
    assert df["e_form"].iat[2] == 50.0  # the caller's table is not changed
    with pytest.raises(ValueError, match="how must be 'any' or 'all', got 'bogus'"):
        hd.clean_targets(df, ["e_form"], how="bogus")
    with pytest.raises(hd.DataFormatError, match=r"clean_targets lacks the column\(s\) "
                                                 r"\['gap'\]; it has \['material_id'"):
        hd.clean_targets(df, ["gap"])


# --------------------------------------------------------------------- splits

@pytest.mark.parametrize("n", [-1, 2.5, True])
def test_subsample_refuses_impossible_sizes(mp_small, n):
    """The probe: subsample(n=-1) returned n - 1 rows."""
    with pytest.raises(ValueError, match="non-negative whole number"):
        hd.subsample(mp_small, n)
    assert len(hd.subsample(mp_small, 0)) == 0 and len(hd.subsample(mp_small, 5.0)) == 5


@pytest.mark.parametrize("call, table", [
    (lambda df: hd.subsample(df, 3), "table given to subsample"),
    (lambda df: hd.assign_splits(df, hl.config.get_profile("ci")), "table given to assign_splits"),
    (lambda df: hd.join_by_structure(df, df), "left table given to join_by_structure"),
], ids=["subsample", "assign_splits", "join_by_structure"])
def test_missing_columns_name_the_columns_and_the_table(mp_small, call, table):
    """The probe: missing columns gave raw pandas KeyErrors."""
    with pytest.raises(hd.DataFormatError, match=rf"the {table} lacks the column"):
        call(mp_small.iloc[:5].drop(columns=["material_id", "structure"]))


def _formula_profile(seed: int = 0):
    return hl.config.get_profile("ci").with_(seed=seed, data={"split": "formula"})


def test_formula_split_keeps_every_formula_in_one_part(mp_sample):
    df = hd.assign_splits(mp_sample, _formula_profile())
    parts_per_formula = df.groupby("formula")["split"].nunique()
    assert parts_per_formula.max() == 1
    shared = df.groupby("formula").size()
    assert (shared > 1).sum() > 200  # the sample has polymorphs, so the test is not empty
    counts = df["split"].value_counts(normalize=True)
    assert counts["test"] == pytest.approx(0.2, abs=0.02)
    assert counts["val"] == pytest.approx(0.1, abs=0.02)
    random = hd.assign_splits(mp_sample, hl.config.get_profile("ci"))
    crossing = random.groupby("formula")["split"].nunique()
    assert (crossing > 1).sum() > 100  # the random split does put polymorphs apart


def test_formula_split_is_seeded_and_independent_of_row_order_and_ids(mp_sample):
    df = mp_sample.iloc[:3000]
    first = hd.assign_splits(df, _formula_profile()).set_index("material_id")["split"]
    shuffled = hd.assign_splits(df.sample(frac=1.0, random_state=1), _formula_profile())
    assert shuffled.set_index("material_id")["split"].loc[first.index].equals(first)
    renamed = hd.assign_splits(df.assign(material_id=df["material_id"] + "-x"),
                               _formula_profile())
    assert renamed["split"].tolist() == first.tolist()
    other = hd.assign_splits(df, _formula_profile(seed=1))["split"]
    assert (other.to_numpy() != first.to_numpy()).mean() > 0.2
    # unreduced formulas join their reduced formula's group
    pair = pd.DataFrame({"material_id": ["a", "b"], "formula": ["Fe2O3", "Fe4O6"]})
    assert hd.assign_splits(pair, _formula_profile())["split"].nunique() == 1


def test_matbench_refuses_the_formula_split_and_unknown_folds(mp_small):
    with pytest.raises(ValueError, match="official test folds are random"):
        hd.matbench.matbench_running_example(_formula_profile())
    task = hd.injected_task("matbench_mp_e_form", mp_small)
    with pytest.raises(ValueError, match=r"has folds \[0, 1, 2, 3, 4\], not 5"):
        hd.load_matbench_fold("matbench_mp_e_form", 5, "full", task=task)


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


def test_subsample_and_split_are_independent(mp_sample, monkeypatch):
    monkeypatch.setattr(hd.dataset, "load_mp_sample", lambda *args, **kwargs: mp_sample)
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
    assert ci.training.steps <= book.training.steps
    assert max(ci.learning_curve_sizes) <= ci.data.n_materials * (
        1 - ci.data.val_fraction - ci.data.test_fraction)


def test_unit_hash_purposes_are_independent():
    ids = [f"mp-{i}" for i in range(2000)]
    low = [i for i in ids if hd.splits._unit_hash(i, 0, "subsample") < 0.1]
    share_test = np.mean([hd.splits._unit_hash(i, 0, "split") < 0.2 for i in low])
    assert share_test == pytest.approx(0.2, abs=0.07)
