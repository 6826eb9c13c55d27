"""tools.colab_check: the pieces of the Colab-path check (the whole check: make colab-check)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from packaging.utils import canonicalize_name

from tools.colab_check import (DEFAULT_CHAPTER, STUDENT_NOTEBOOK, preinstalled_closure,
                               prepare_notebook, snapshot_repository, unexpected_errors)
from tools.set_repository import INSTALL_LINE

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def test_snapshot_holds_what_a_push_would_hold(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    _git("init", "-q", cwd=source)
    (source / ".gitignore").write_text("ignored.txt\n")
    (source / "tracked.py").write_text("committed = 1\n")
    _git("add", ".", cwd=source)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c", cwd=source)
    (source / "tracked.py").write_text("committed = 2  # edited, not committed\n")
    (source / "new.py").write_text("untracked = 1\n")
    (source / "ignored.txt").write_text("never pushed\n")

    copy = snapshot_repository(source, tmp_path / "copy")
    assert sorted(_git("ls-files", cwd=copy).split()) == [".gitignore", "new.py", "tracked.py"]
    assert "edited" in (copy / "tracked.py").read_text()
    assert _git("status", "--porcelain", cwd=copy) == ""


def test_preinstalled_closure_is_torch_numpy_ipykernel_and_their_requirements():
    names = {canonicalize_name(d.metadata["Name"]) for d in preinstalled_closure()}
    assert {"torch", "numpy", "ipykernel", "filelock", "jupyter-client"} <= names
    # what the Colab cell must install itself
    assert not names & {"hybridlib", "pymatgen", "matminer", "torch-geometric", "pandas"}


@pytest.mark.parametrize("notebook", [DEFAULT_CHAPTER, STUDENT_NOTEBOOK])
def test_prepared_copy_installs_from_the_given_url_and_reports_provenance(tmp_path, notebook):
    original = (ROOT / notebook).read_text(encoding="utf-8")
    copy = prepare_notebook(ROOT / notebook, tmp_path / "copy.ipynb", "file:///tmp/pushed")
    nb = nbformat.read(copy, as_version=4)
    urls = [m["url"] for c in nb.cells if c.cell_type == "code"
            for m in INSTALL_LINE.finditer(c.source)]
    assert urls == ["file:///tmp/pushed"]
    assert "COLAB-CHECK" in nb.cells[-1].source
    assert (ROOT / notebook).read_text(encoding="utf-8") == original


def _notebook_with_errors(*cells: tuple[list[str], str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for tags, ename in cells:
        cell = nbformat.v4.new_code_cell("...", metadata={"tags": tags})
        cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue="x", traceback=[])]
        nb.cells.append(cell)
    return nb


def test_student_stubs_and_their_checks_may_fail_nothing_else():
    nb = _notebook_with_errors(([], "NotImplementedError"), (["check"], "NameError"),
                               ([], "ModuleNotFoundError"))
    assert unexpected_errors(nb, stubs_allowed=True) == ["cell 2: ModuleNotFoundError: x"]
    assert len(unexpected_errors(nb, stubs_allowed=False)) == 3
