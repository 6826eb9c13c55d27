"""``python -m hybridlib.predict``: many CIFs in, one table out; bad files reported, not fatal."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from pymatgen.io.cif import CifWriter

import hybridlib as hl

from hybridlib.predict.__main__ import main
from hybridlib.predict.examples import prototype


@pytest.fixture
def cif_files(tmp_path):
    good = {}
    for name in ("NaCl (rock salt)", "Si (diamond)"):
        path = tmp_path / f"{name.split()[0]}.cif"
        path.write_text(str(CifWriter(prototype(name))))
        good[name] = path
    empty = tmp_path / "empty.cif"
    empty.write_text("")
    broken = tmp_path / "broken.cif"
    broken.write_text("loop_\n_atom_site_label\nnonsense\n")
    return good, empty, broken


def test_a_batch_with_bad_files_predicts_the_good_ones_and_exits_1(tiny, cif_files, tmp_path,
                                                                  capsys, monkeypatch):
    profile, registry, _ = tiny
    monkeypatch.setenv("HYBRIDLIB_PROFILE", "ci")
    good, empty, broken = cif_files
    out = tmp_path / "table.csv"
    args = [str(good["NaCl (rock salt)"]), str(empty), str(broken), str(good["Si (diamond)"]),
            "--models", "rf_magpie", "cgcnn", "--registry", str(registry), "--out", str(out)]
    monkeypatch.setitem(hl.config.PROFILES, "ci", profile)  # the tiny runs answer to "ci"
    assert main(args) == 1
    captured = capsys.readouterr()
    assert f"error: {empty}: the file is empty" in captured.err
    assert f"error: {broken}: not a readable CIF" in captured.err
    assert "2 structure(s) x 2 model(s)" in captured.err
    table = pd.read_csv(out, keep_default_na=False)
    predicted = table[table["error"] == ""]
    assert set(predicted["input"]) == {str(good["NaCl (rock salt)"]), str(good["Si (diamond)"])}
    assert len(predicted) == 2 * 3  # rf_magpie: two targets, cgcnn: one
    assert set(table[table["error"] != ""]["input"]) == {str(empty), str(broken)}
    assert "NaCl" in captured.out and "cgcnn" in captured.out


def test_a_model_missing_from_the_registry_exits_2_with_the_command(tiny, cif_files, tmp_path,
                                                                     capsys):
    good, _, _ = cif_files
    code = main([str(good["Si (diamond)"]), "--models", "cgcnn", "--profile", "ci",
                 "--registry", str(tmp_path / "empty-registry")])
    assert code == 2
    err = capsys.readouterr().err
    assert "cgcnn: no run" in err
    assert "python -m hybridlib.experiments cgcnn --profile ci" in err


def test_help_describes_the_command():
    done = subprocess.run([sys.executable, "-m", "hybridlib.predict", "--help"],
                          capture_output=True, text=True, check=True)
    assert "usage: python -m hybridlib.predict" in done.stdout
    for option in ("--models", "--profile", "--out", "--registry", "FILE.cif"):
        assert option in done.stdout
