"""Shared fixtures: the real offline MP sample, loaded once per test session."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("HYBRIDLIB_PROFILE", "ci")
#: The cache the test command's registry warm-up filled (``make test``), if any.
OUTER_CACHE = os.environ.get("HYBRIDLIB_CACHE_DIR")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def mp_sample():
    """The whole shared MP sample (10,200 real materials) as hl.data.load_mp_sample() returns it."""
    import hybridlib as hl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hl.data.load_mp_sample()


@pytest.fixture(scope="session")
def mp_small(mp_sample):
    """A fixed, id-hashed subset of 300 real materials (fast unit tests)."""
    import hybridlib as hl

    return hl.data.subsample(mp_sample, 300, seed=0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test writes caches and registry entries into its own temporary folder."""
    monkeypatch.setenv("HYBRIDLIB_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def shared_cache(monkeypatch):
    """Use the outer run registry (filled by ``python -m hybridlib.experiments``) if there is one.

    Only for end-to-end tests of the book's own notebooks, which read trained runs; every
    other test keeps its private, empty cache.
    """
    if OUTER_CACHE:
        monkeypatch.setenv("HYBRIDLIB_CACHE_DIR", OUTER_CACHE)


@pytest.fixture(autouse=True)
def _no_test_experiment_outlives_its_test():
    """Experiments a test registers (names starting with ``_``) must be gone after it, so
    ``hl.experiments.available()`` and the warm-up never see them."""
    yield
    experiments = sys.modules.get("hybridlib.experiments")
    leaked = sorted(n for n in getattr(experiments, "_EXPERIMENTS", {}) if n.startswith("_"))
    assert leaked == [], f"test experiments left registered: {leaked}"


@pytest.fixture()
def start_together():
    """Run a Python script in several processes released at the same moment.

    The script (this checkout's ``hybridlib`` on its path) prints ``ready``, then reads a
    line from stdin before doing its work. ``start_together(script, [args, ...])`` returns
    each process's ``(stdout, stderr)`` after checking that all exited cleanly.
    """
    root = Path(__file__).resolve().parents[1]

    def start(script: str, argvs: list[list[str]], timeout: float = 180) -> list[tuple]:
        env = {**os.environ, "PYTHONPATH": str(root)}
        processes = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *argv],
                                      env=env, text=True, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for argv in argvs]
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=timeout) for process in processes]
        assert [p.returncode for p in processes] == [0] * len(processes), outputs
        return outputs

    return start
