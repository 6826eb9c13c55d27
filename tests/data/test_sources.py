"""Where the data come from: the packaged sample, HYBRIDLIB_DATA_DIR, HYBRIDLIB_SOURCE, and
the errors raised instead of silent fallbacks."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import socket
import sys
import tomllib
from pathlib import Path

import pytest

import hybridlib
import hybridlib.config as hc
from hybridlib import data as hd
from hybridlib.data.dataset import data_source
from hybridlib.data.paths import sample_path

ROOT = Path(__file__).resolve().parents[2]
README = hd.PACKAGED_DATA_DIR / "README.md"


def _readme_sha256() -> dict[str, str]:
    """``file -> sha256`` from the packaged README's "sha256:" list."""
    return dict(re.findall(r"^- `([\w.]+\.json\.gz)`: `([0-9a-f]{64})`$",
                           README.read_text(encoding="utf-8"), flags=re.M))


# ------------------------------------------------------------------ packaged files

def test_packaged_files_match_the_sha256_in_their_readme():
    expected = _readme_sha256()
    shipped = {p.name for p in hd.PACKAGED_DATA_DIR.glob("*.json.gz")}
    assert shipped == set(expected) == {hd.SAMPLE_FILE, "perovskites_sample.json.gz"}
    for name, digest in expected.items():
        actual = hashlib.sha256((hd.PACKAGED_DATA_DIR / name).read_bytes()).hexdigest()
        assert actual == digest, f"{name}: sha256 {actual} differs from README.md's {digest}"


def test_packaged_folder_is_inside_the_package_and_declared_as_package_data():
    assert hd.PACKAGED_DATA_DIR.parent == Path(hybridlib.__file__).parent / "data"
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["hybridlib.data"]
    assert {"files/*.json.gz", "files/README.md"} <= set(package_data)


def test_without_env_the_packaged_sample_is_read(monkeypatch):
    monkeypatch.delenv(hd.DATA_ENV, raising=False)
    assert hd.data_dir() == hd.PACKAGED_DATA_DIR
    assert sample_path() == hd.PACKAGED_DATA_DIR / hd.SAMPLE_FILE


def _small_sample_dir(folder: Path, n: int) -> Path:
    with gzip.open(hd.PACKAGED_DATA_DIR / hd.SAMPLE_FILE, "rt", encoding="utf-8") as handle:
        records = json.load(handle)[:n]
    folder.mkdir()
    with gzip.open(folder / hd.SAMPLE_FILE, "wt", encoding="utf-8") as handle:
        json.dump(records, handle)
    return folder


def test_data_dir_env_overrides_the_packaged_copy(tmp_path, monkeypatch):
    folder = _small_sample_dir(tmp_path / "mine", 12)
    monkeypatch.setenv(hd.DATA_ENV, str(folder))
    monkeypatch.delenv("HYBRIDLIB_SOURCE", raising=False)
    assert sample_path() == folder / hd.SAMPLE_FILE
    assert len(hd.load_mp_sample()) == 12
    df = hd.load_dataset("ci")
    assert len(df) == 12 and set(df["split"]) <= {"train", "val", "test"}


# ------------------------------------------------------------------ no silent fallback

def test_mistyped_data_dir_names_the_folder_and_does_not_switch_to_matbench(tmp_path,
                                                                           monkeypatch):
    typo = tmp_path / "dta"
    monkeypatch.setenv(hd.DATA_ENV, str(typo))
    monkeypatch.delenv("HYBRIDLIB_SOURCE", raising=False)

    def no_matbench(profile):
        raise AssertionError("load_dataset switched to Matbench")

    monkeypatch.setattr(hd.matbench, "matbench_running_example", no_matbench)
    with pytest.raises(hd.DataNotFoundError) as err:
        hd.load_dataset("ci")
    message = str(err.value)
    assert str(typo) in message and hd.DATA_ENV in message and hd.SAMPLE_FILE in message
    assert "unset" in message


def test_missing_packaged_copy_says_reinstall(tmp_path, monkeypatch):
    monkeypatch.delenv(hd.DATA_ENV, raising=False)
    monkeypatch.setattr(hd.paths, "PACKAGED_DATA_DIR", tmp_path / "files")
    with pytest.raises(hd.DataNotFoundError, match="reinstall hybridlib"):
        sample_path()


def test_source_comes_from_argument_then_env_then_sample(monkeypatch):
    monkeypatch.delenv("HYBRIDLIB_SOURCE", raising=False)
    assert data_source() == "sample"
    monkeypatch.setenv("HYBRIDLIB_SOURCE", "Matbench")
    assert data_source() == "matbench"
    assert data_source("sample") == "sample"
    monkeypatch.setenv("HYBRIDLIB_SOURCE", "samples")
    with pytest.raises(ValueError, match=r"unknown source 'samples' \(from HYBRIDLIB_SOURCE"):
        data_source()


@pytest.fixture()
def no_network(monkeypatch, tmp_path):
    """Sockets refuse to resolve or connect; matminer has no downloaded copy either."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("MATMINER_DATA", str(tmp_path / "matminer"))
    (tmp_path / "matminer").mkdir()


def test_matbench_without_network_says_so_in_one_line(no_network, monkeypatch):
    pytest.importorskip("matbench")
    monkeypatch.setenv("HYBRIDLIB_SOURCE", "matbench")
    with pytest.raises(hd.DataNotFoundError) as err:
        hd.load_dataset("ci")
    message = str(err.value)
    assert "\n" not in message
    assert "needs the network" in message and "matbench_mp_e_form" in message
    assert "unset HYBRIDLIB_SOURCE" in message and "'sample'" in message


def test_matbench_not_installed_says_how_to_install_or_use_the_sample(no_network, monkeypatch):
    for name in [m for m in sys.modules if m == "matbench" or m.startswith("matbench.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matbench", None)
    with pytest.raises(hd.DataNotFoundError) as err:
        hd.load_dataset("ci", source="matbench")
    message = str(err.value)
    assert "\n" not in message and "pip install --no-deps matbench==0.6" in message
    assert "unset HYBRIDLIB_SOURCE" in message


# ------------------------------------------------------------------ ids safe in every profile

def test_smaller_profiles_draw_a_subset_of_the_larger_ones(mp_sample):
    """Materials of the ``ci`` subset are in ``book`` too: exercise checks may use them."""
    ci, book = hc.get_profile("ci"), hc.get_profile("book")
    assert ci.seed == book.seed
    small = set(hd.subsample(mp_sample, ci.data.n_materials, ci.seed)["material_id"])
    large = set(hd.subsample(mp_sample, book.data.n_materials, book.seed)["material_id"])
    assert len(small) == ci.data.n_materials and small < large


def test_a_cache_folder_that_is_a_file_is_named(tmp_path, monkeypatch):
    import hybridlib as hl

    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HYBRIDLIB_CACHE_DIR", str(blocker))
    with pytest.raises(NotADirectoryError, match="HYBRIDLIB_CACHE_DIR"):
        hl.data.cache_dir()
