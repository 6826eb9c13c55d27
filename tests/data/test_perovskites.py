"""hybridlib.data.perovskites: the packaged Castelli perovskites and bad input."""
from __future__ import annotations

import gzip
import json
import math

import pytest

from hybridlib import data as hd
from hybridlib.data import perovskites as hp


@pytest.fixture(scope="module")
def perovskites():
    return hp.load_perovskites()


@pytest.fixture()
def raw_records():
    with gzip.open(hd.data_dir() / hp.PEROVSKITE_FILE, "rt") as handle:
        return json.load(handle)[:12]


def _write(path, records):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(records, handle)
    return path


def test_table_schema_and_documented_values(perovskites):
    df = perovskites
    assert len(df) == 7572
    assert list(df.columns[:7]) == ["material_id", "formula", "structure", "heat_all",
                                    "heat_ref", "dir_gap", "ind_gap"]
    assert df["material_id"].is_unique and (df["n_sites"] == 5).all()
    row = df.set_index("material_id").loc["1"]  # first record of the file
    assert row["structure"].composition.reduced_formula == row["formula"]
    assert row["heat_all"] == pytest.approx(1.2)
    assert row["heat_ref"] == pytest.approx(1.1968013, abs=1e-6)
    # summary statistics of files/README.md
    assert df["heat_all"].mean() == pytest.approx(1.4753, abs=1e-4)
    assert (df["dir_gap"] == 0).sum() == 7278
    assert (df["ind_gap"] <= df["dir_gap"]).all()


def test_missing_file_explains_where_and_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDLIB_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(hd.DataNotFoundError) as err:
        hp.load_perovskites()
    assert "nowhere" in str(err.value) and "HYBRIDLIB_DATA_DIR" in str(err.value)


def test_altered_file_fails_the_digest_check_unless_told(tmp_path, monkeypatch, raw_records):
    monkeypatch.setenv("HYBRIDLIB_DATA_DIR", str(tmp_path))
    _write(tmp_path / hp.PEROVSKITE_FILE, raw_records)
    with pytest.raises(hd.DataFormatError, match="sha256"):
        hp.load_perovskites()
    assert len(hp.load_perovskites(verify=False)) == len(raw_records)


def test_truncated_file_names_the_file(tmp_path):
    good = (hd.data_dir() / hp.PEROVSKITE_FILE).read_bytes()
    bad = tmp_path / "cut.json.gz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(hd.DataFormatError, match="cut.json.gz"):
        hp.load_perovskites(bad, verify=False)


def test_missing_field_names_the_record(tmp_path, raw_records):
    del raw_records[3]["heat_all"]
    path = _write(tmp_path / "p.json.gz", raw_records)
    with pytest.raises(hd.DataFormatError, match=rf"'{raw_records[3]['material_id']}'.*heat_all"):
        hp.load_perovskites(path, verify=False)


def test_a_cell_without_five_sites_names_the_material(tmp_path, raw_records):
    raw_records[4]["structure"]["sites"] = raw_records[4]["structure"]["sites"][:4]
    path = _write(tmp_path / "p.json.gz", raw_records)
    with pytest.raises(hd.DataFormatError, match=rf"'{raw_records[4]['material_id']}' has 4 sites"):
        hp.load_perovskites(path, verify=False)


def test_duplicate_ids_are_refused(tmp_path, raw_records):
    raw_records[2]["material_id"] = raw_records[1]["material_id"]
    path = _write(tmp_path / "p.json.gz", raw_records)
    with pytest.raises(hd.DataFormatError, match="not unique"):
        hp.load_perovskites(path, verify=False)


def test_bad_targets_are_dropped_with_a_count_or_refused(tmp_path, raw_records):
    raw_records[5]["heat_all"] = math.nan
    path = _write(tmp_path / "p.json.gz", raw_records)
    with pytest.warns(UserWarning, match="1 of 12 rows"):
        df = hp.load_perovskites(path, verify=False)
    assert raw_records[5]["material_id"] not in set(df["material_id"]) and len(df) == 11
    with pytest.raises(hd.DataFormatError, match="heat_all"):
        hp.load_perovskites(path, verify=False, strict=True)
