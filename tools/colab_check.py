"""The Colab path, checked on this machine (``make colab-check``, part of ``make test``).

Colab cannot be reached from here, so this builds the nearest thing and fails if any step
needs the repository's layout:

1. **A pushed copy.** The working tree as git would push it (tracked files and untracked ones
   git does not ignore) is committed into a fresh repository in a temporary folder.
2. **A runtime that already has torch.** A fresh virtual environment sees torch, numpy and
   ipykernel (what Colab preinstalls and the chapters need before the setup cell) through a
   ``.pth`` file that points at links to this environment's copies; everything else is
   missing, as on a new Colab runtime.
3. **The chapters' own setup cell.** Copies of one chapter and of the student notebook are put
   into a folder outside the repository (no ``../shared`` beside it, an empty cache, no
   ``HYBRIDLIB_*`` variables, no ``PYTHONPATH``); their install line is pointed at the
   ``git+file://`` URL of the pushed copy, and a kernel in the fresh environment that
   announces itself as Colab (``google.colab`` in ``sys.modules``) runs them top to bottom.
   So the cell's ``%pip install`` resolves hybridlib's requirements against the preinstalled
   torch, exactly as it does on Colab.
4. **Checks.** The chapter runs without an error; in the student notebook only the stubs
   (``NotImplementedError``) and the ``check`` cells that test them may fail. Both print the
   ``ci`` profile (the default), hybridlib and its data come from the fresh environment, and
   torch is still the preinstalled one.

``python -m tools.colab_check [--chapter chapters/X.ipynb] [--keep DIR]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.set_repository import INSTALL_LINE

__all__ = ["PREINSTALLED", "snapshot_repository", "preinstalled_closure", "colab_like_venv",
           "prepare_notebook", "unexpected_errors", "check_colab_path"]

ROOT = Path(__file__).resolve().parents[1]
#: What a new Colab runtime already has that the chapters use (with their requirements).
PREINSTALLED = ("torch", "numpy", "ipykernel")
#: A chapter that trains a graph network and a forest from an empty cache on the packaged
#: data (5.3: RF, CGCNN, late fusion, stacking); 5.2's six fusion variants took twice as long
#: and check nothing more about the install path.
DEFAULT_CHAPTER = "chapters/05_3_late_fusion.ipynb"
STUDENT_NOTEBOOK = "students/05_8_exercises.ipynb"
KERNEL = "colab-check"
_FAKE_COLAB = 'import sys, types\nsys.modules.setdefault("google.colab", types.ModuleType("google.colab"))\n'
#: Appended to each executed copy: where things were imported from.
_PROVENANCE = """import json, sys, hybridlib, torch
print("COLAB-CHECK " + json.dumps({"hybridlib": hybridlib.__file__, "torch": torch.__file__,
    "sample": str(hybridlib.data.paths.sample_path()), "prefix": sys.prefix,
    "profile": hybridlib.config.get_profile().name}))
"""


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}):\n"
                           f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def snapshot_repository(root: Path, dest: Path) -> Path:
    """A one-commit git repository holding what a push of ``root`` would hold."""
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root)
    dest.mkdir(parents=True)
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    _run("git", "init", "-q", "-b", "main", cwd=dest)
    _run("git", "add", "-A", cwd=dest)
    _run("git", "-c", "user.name=colab-check", "-c", "user.email=colab-check@localhost",
         "commit", "-q", "-m", "snapshot of the working tree", cwd=dest)
    return dest


def preinstalled_closure(names: tuple[str, ...] = PREINSTALLED) -> list[metadata.Distribution]:
    """The distributions ``names`` need at run time (no extras), from this environment."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return sorted(seen.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def _top_level_entries(dist: metadata.Distribution) -> set[Path]:
    """Files and folders a distribution puts directly into site-packages."""
    site = Path(dist.locate_file(""))
    entries = {Path(str(dist._path))}  # its .dist-info folder
    for file in dist.files or []:
        first = Path(file).parts[0]
        if first not in ("..", "__pycache__") and not first.endswith(".pth"):
            entries.add(site / first)
    return entries


def colab_like_venv(dest: Path) -> Path:
    """A fresh virtual environment that already sees :data:`PREINSTALLED`; its python."""
    # --upgrade-deps: a current pip, as Colab has (the one ensurepip bundles may predate
    # support for git+file:// requirements).
    _run(sys._base_executable, "-m", "venv", "--upgrade-deps", dest / "venv")  # noqa: SLF001
    python = dest / "venv" / "bin" / "python"
    base = dest / "preinstalled"
    base.mkdir()
    for dist in preinstalled_closure():
        for entry in _top_level_entries(dist):
            link = base / entry.name
            if entry.exists() and not link.exists():
                link.symlink_to(entry)
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    (site / "_colab_preinstalled.pth").write_text(f"{base}\n")
    return python


def prepare_notebook(source: Path, dest: Path, repository_url: str) -> Path:
    """Copy ``source`` to ``dest`` with its install line pointed at ``repository_url``."""
    nb = nbformat.read(source, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code" and INSTALL_LINE.search(c.source))
    setup.source = INSTALL_LINE.sub(
        lambda m: f"{m['open']}hybridlib @ git+{repository_url}{m['close']}", setup.source)
    nb.cells.append(nbformat.v4.new_code_cell(_PROVENANCE))
    nbformat.write(nb, dest)
    return dest


def unexpected_errors(nb: nbformat.NotebookNode, stubs_allowed: bool) -> list[str]:
    """Errors other than a student's unfinished work: ``index: ename: evalue``."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type != "error":
                continue
            allowed = stubs_allowed and (output.ename == "NotImplementedError"
                                         or "check" in cell.metadata.get("tags", []))
            if not allowed:
                found.append(f"cell {index}: {output.ename}: {output.evalue}")
    return found


def _provenance(nb: nbformat.NotebookNode) -> dict:
    for output in nb.cells[-1].get("outputs", []):
        for line in output.get("text", "").splitlines():
            if line.startswith("COLAB-CHECK "):
                return json.loads(line.removeprefix("COLAB-CHECK "))
    raise AssertionError("the provenance cell printed nothing")


def _cell_seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    from datetime import datetime

    return (datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z"))
            ).total_seconds()


def _kernel_environment(dest: Path) -> dict[str, str]:
    """The executor's environment with nothing that leads back to the repository."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HYBRIDLIB_")
           and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MPLBACKEND", "JUPYTER_PATH")}
    startup = dest / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-pretend-colab.py").write_text(_FAKE_COLAB)
    kernel_dir = dest / "jupyter" / "kernels" / KERNEL
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(dest / "venv" / "bin" / "python"), "-m", "ipykernel_launcher",
                 "-f", "{connection_file}"],
        "display_name": "Colab check", "language": "python"}))
    env.update(IPYTHONDIR=str(dest / "ipython"), JUPYTER_PATH=str(dest / "jupyter"),
               HYBRIDLIB_CACHE_DIR=str(dest / "cache"))
    return env


def _execute(path: Path, workdir: Path, allow_errors: bool, timeout: int) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=timeout, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    nbformat.write(nb, path)
    return nb


def check_colab_path(root: Path = ROOT, chapter: str = DEFAULT_CHAPTER, keep: Path | None = None,
                     timeout: int = 900) -> dict[str, float]:
    """Run the whole check; return the seconds each step took. Raises on any failure."""
    dest = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="colab-check-"))
    dest.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    try:
        start = time.perf_counter()
        repository = snapshot_repository(root, dest / "pushed")
        colab_like_venv(dest)
        seconds["snapshot and fresh venv"] = time.perf_counter() - start
        workdir = dest / "work"
        workdir.mkdir()
        assert not (dest / "shared").exists() and not (workdir / "shared").exists()
        url = f"file://{repository}"
        notebooks = [(prepare_notebook(root / chapter, workdir / Path(chapter).name, url), False),
                     (prepare_notebook(root / STUDENT_NOTEBOOK, workdir / "student.ipynb", url),
                      True)]
        env = _kernel_environment(dest)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            for path, is_student in notebooks:
                start = time.perf_counter()
                nb = _execute(path, workdir, allow_errors=is_student, timeout=timeout)
                seconds[path.name] = time.perf_counter() - start
                setup = next(c for c in nb.cells if c.cell_type == "code")
                seconds[f"{path.name}: setup cell (pip install)"] = _cell_seconds(setup)
                _verify(nb, path.name, is_student, dest, root)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return seconds
    finally:
        if keep is None:
            shutil.rmtree(dest, ignore_errors=True)


def _verify(nb: nbformat.NotebookNode, name: str, is_student: bool, dest: Path,
            root: Path) -> None:
    errors = unexpected_errors(nb, stubs_allowed=is_student)
    if errors:
        raise AssertionError(f"{name}: " + "; ".join(errors))
    where = _provenance(nb)
    venv = str(dest / "venv")
    assert where["prefix"] == venv, f"{name}: the kernel ran in {where['prefix']}, not {venv}"
    assert where["hybridlib"].startswith(venv + "/lib/"), \
        f"{name}: hybridlib imported from {where['hybridlib']}, not the fresh environment"
    assert where["sample"].startswith(venv + "/lib/"), \
        f"{name}: the sample was read from {where['sample']}, not the installed package"
    assert where["torch"].startswith(str(dest / "preinstalled")), \
        f"{name}: torch came from {where['torch']}: the install replaced the preinstalled torch"
    assert str(root) not in json.dumps(where), f"{name}: something came from {root}: {where}"
    assert where["profile"] == "ci", f"{name}: ran the {where['profile']!r} profile, not ci"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapter", default=DEFAULT_CHAPTER, help="chapter notebook to run")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    total = time.perf_counter()
    seconds = check_colab_path(chapter=args.chapter, keep=args.keep, timeout=args.timeout)
    for step, value in seconds.items():
        print(f"colab-check: {step}: {value:.0f} s")
    print(f"colab-check: passed in {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
