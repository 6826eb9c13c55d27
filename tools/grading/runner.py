"""Running one graded copy: nbval in a subprocess, a private environment, hard time limits.

Each run gets a folder of its own (the kernel's working directory) and an environment that
points every writable place — home, IPython and Jupyter folders, matplotlib's cache, temporary
files, the hybridlib cache — at folders of this student only. Results come back through a pipe
(:mod:`tools.grading.plugin`), line by line, so a run killed at its time limit keeps the checks
it finished. The whole process tree (pytest, the kernel, anything they started) is killed at the
limit, and afterwards every process still carrying this run's token in its environment.
A kernel that never becomes ready (a port taken by a kernel starting beside it, a machine too
busy to answer in time) is started again, up to :data:`STARTUP_ATTEMPTS` times: no student code
has run by then, so a retry changes no grade, and the failure is the grader's, not the student's.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .plugin import FD_ENV

__all__ = ["CellRecord", "RunResult", "KernelSetup", "run_graded", "kernel_environment"]

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "HYBRIDLIB_GRADING_RUN"
#: Seconds pytest may take to import and start the kernel (not counted in an exercise's limit).
STARTUP_LIMIT = 180.0
#: Times a run is started before a kernel that never becomes ready is the run's result.
STARTUP_ATTEMPTS = 3
#: Environment variables a grading kernel never inherits from the grader.
_DROPPED = ("HYBRIDLIB_DATA_DIR", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONSTARTUP",
            "JPY_PARENT_PID", "PYTHONBREAKPOINT", "PYTHONINSPECT")


@dataclass(frozen=True)
class CellRecord:
    """What the plugin reported for one code cell of a graded copy."""

    cell: int
    passed: bool
    ename: str = ""
    evalue: str = ""
    timeout: bool = False
    skipped: bool = False   # not run, or xfailed, because an earlier cell timed out
    problem: str = ""
    emitted: tuple[str, ...] = ()


@dataclass
class RunResult:
    """One nbval run of a graded copy."""

    records: dict[int, CellRecord] = field(default_factory=dict)
    killed: bool = False               # ran past the hard time limit
    started: float | None = None       # when the kernel was ready (time.monotonic())
    kernel_died: int | None = None     # the cell during which the kernel died
    returncode: int | None = None
    seconds: float = 0.0
    log: str = ""
    setup_problem: str = ""            # why a kernel could not be set up (last failed start)
    attempts: int = 1                  # runs started until a kernel became ready


@dataclass(frozen=True)
class KernelSetup:
    """What a grading kernel is given: its profile and the folders it may write."""

    profile: str
    cache: Path        # HYBRIDLIB_CACHE_DIR of the kernel
    home: Path         # private home (IPython, Jupyter, matplotlib, temporary files)


def _matplotlib_cache() -> Path | None:
    env = os.environ.get("MPLCONFIGDIR")
    candidates = [Path(env)] if env else [Path.home() / ".cache" / "matplotlib",
                                          Path.home() / ".matplotlib"]
    return next((p for p in candidates if p.is_dir()), None)


def prepare_home(home: Path) -> None:
    """Create a private home with the grader's matplotlib font cache (no rebuild per kernel)."""
    for sub in ("ipython", "jupyter/config", "jupyter/data", "jupyter/runtime", "matplotlib",
                "cache", "config", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    fonts = _matplotlib_cache()
    if fonts:
        for path in fonts.glob("fontlist-*.json"):
            shutil.copy2(path, home / "matplotlib" / path.name)


def kernel_environment(setup: KernelSetup, token: str) -> dict[str, str]:
    """Environment of a grading subprocess and its kernel."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    home = setup.home
    env.update({
        "HOME": str(home), "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter/config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter/data"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter/runtime"),
        "MPLCONFIGDIR": str(home / "matplotlib"), "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"), "TMPDIR": str(home / "tmp"),
        "HYBRIDLIB_PROFILE": setup.profile, "HYBRIDLIB_SOURCE": "sample",
        "HYBRIDLIB_CACHE_DIR": str(setup.cache), "HYBRIDLIB_QUIET": "1",
        "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONWARNINGS": "ignore", TOKEN_ENV: token,
    })
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    return env


def _kill_tree(process: subprocess.Popen, token: str) -> None:
    """Kill a process, its descendants, and any process left with this run's token."""
    import psutil  # a dependency of ipykernel, which grading needs anyway

    try:
        victims = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        victims = []
    if process.poll() is None:
        process.kill()
    for victim in victims:
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()
    psutil.wait_procs(victims, timeout=5)
    _sweep(token)


def _sweep(token: str) -> None:
    """Kill processes that still carry ``token`` in their environment (escaped descendants)."""
    import psutil

    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.info["pid"] == me:
            continue
        try:
            if proc.environ().get(TOKEN_ENV) == token:
                proc.kill()
        except (psutil.Error, OSError):
            continue


def _read_records(read_fd: int, result: RunResult) -> None:
    with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as stream:
        for line in stream:
            try:
                record = json.loads(line)
                cell = int(record["cell"])
            except (ValueError, KeyError, TypeError):
                continue
            if record.get("event") == "kernel-died":
                result.kernel_died = cell
                continue
            if record.get("event") == "started":
                result.started = time.monotonic()
                continue
            if record.get("event") == "setup-failed":
                result.setup_problem = result.setup_problem or str(record.get("problem", ""))
                continue
            result.records[cell] = CellRecord(
                cell=cell, passed=bool(record.get("passed")), ename=str(record.get("ename", "")),
                evalue=str(record.get("evalue", "")), timeout=bool(record.get("timeout")),
                skipped=bool(record.get("skipped") or record.get("xfailed")),
                problem=str(record.get("problem", "")),
                emitted=tuple(str(x) for x in record.get("emitted", [])))


def run_graded(notebook: nbformat.NotebookNode, folder: Path, setup: KernelSetup, *,
               cell_timeout: float, timeout: float,
               attempts: int = STARTUP_ATTEMPTS) -> RunResult:
    """Run a graded copy with nbval in ``folder``; kill everything ``timeout`` seconds after
    the kernel started (or :data:`STARTUP_LIMIT` seconds after launch if it never starts).
    A run whose kernel never became ready is started again, ``attempts`` times at most."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / "graded.ipynb")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (folder / "pytest.log").unlink(missing_ok=True)
    start = time.monotonic()
    problem = ""
    for attempt in range(1, attempts + 1):
        result = _run_once(folder, setup, cell_timeout=cell_timeout, timeout=timeout)
        result.attempts = attempt
        problem = result.setup_problem = result.setup_problem or problem
        if result.started is not None:
            break
    result.seconds = time.monotonic() - start
    return result


def _run_once(folder: Path, setup: KernelSetup, *, cell_timeout: float,
              timeout: float) -> RunResult:
    token = secrets.token_hex(16)
    env = kernel_environment(setup, token)
    read_fd, write_fd = os.pipe()
    env[FD_ENV] = str(write_fd)
    command = [
        sys.executable, "-m", "pytest", "graded.ipynb", "-q", "-c", "pytest.ini",
        "--rootdir", ".", "-p", "no:cacheprovider", "-p", "tools.grading.plugin",
        "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={cell_timeout:g}",
        f"--nbval-kernel-startup-timeout={STARTUP_LIMIT - 30:g}",
    ]
    result = RunResult()
    reader = threading.Thread(target=_read_records, args=(read_fd, result), daemon=True)
    start = time.monotonic()
    with open(folder / "pytest.log", "a", encoding="utf-8") as log:
        try:
            process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        reader.start()
        while process.poll() is None:
            began = result.started if result.started is not None else start + STARTUP_LIMIT
            if time.monotonic() > began + (timeout if result.started is not None else 0):
                result.killed = True
                break
            time.sleep(0.2)
        _kill_tree(process, token)
        result.returncode = process.returncode
    reader.join(timeout=10)
    result.log = (folder / "pytest.log").read_text(encoding="utf-8", errors="replace")[-4000:]
    return result
