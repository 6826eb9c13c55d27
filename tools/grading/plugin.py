"""pytest plugin of the grading subprocess (``pytest -p tools.grading.plugin --nbval-lax ...``).

After every nbval cell it writes one JSON line to the file descriptor named by
``HYBRIDLIB_GRADING_FD`` (a pipe the grader opened; the kernel, started with ``close_fds``, does
not hold it): the cell number, whether it passed, its exception, whether it timed out, and the
output lines that start with an emission marker (and, before the first cell, that the kernel
has started: the exercise's time limit counts from there; or, if the kernel never became ready,
why). A results line is written as soon as its cell ends, so a run killed later keeps what it
finished. If the kernel dies while a cell runs (for
example ``os._exit``), the plugin reports it and ends the run at once instead of waiting for the
cell timeout.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time

import pytest

FD_ENV = "HYBRIDLIB_GRADING_FD"
MARKER_PREFIX = "@@grading:"
_MAX_LINES = 16
_stream = None
_lock = threading.Lock()


def _write(record: dict) -> None:
    if _stream is None:
        return
    with _lock:
        _stream.write(json.dumps(record, ensure_ascii=True) + "\n")
        _stream.flush()


def pytest_configure(config) -> None:
    """Open the results pipe and hide its number from the kernel's environment."""
    global _stream
    fd = os.environ.pop(FD_ENV, None)
    if fd is not None:
        _stream = os.fdopen(int(fd), "w", encoding="utf-8")


def _watch_kernel(item, done: threading.Event) -> None:
    dead_since = None
    while not done.wait(0.25):
        kernel = getattr(item.parent, "kernel", None)
        alive = kernel is not None and kernel.is_alive()
        if alive:
            dead_since = None
            continue
        dead_since = dead_since or time.monotonic()
        if time.monotonic() - dead_since > 2.0:
            _write({"cell": item.cell_num, "event": "kernel-died"})
            os._exit(3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Watch the kernel while a cell runs."""
    done = threading.Event()
    if getattr(item, "cell_num", None) == 0:
        _write({"cell": 0, "event": "started"})
    if hasattr(item, "cell_num"):
        threading.Thread(target=_watch_kernel, args=(item, done), daemon=True).start()
    try:
        yield
    finally:
        done.set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Send each cell's result to the grader."""
    outcome = yield
    report = outcome.get_result()
    if not hasattr(item, "cell_num"):
        return
    if call.when == "setup" and report.skipped:
        _write({"cell": item.cell_num, "passed": False, "skipped": True})
        return
    if call.when == "setup" and report.failed:
        _report_setup_failure(item, call)
        return
    if call.when != "call":
        return
    outputs = getattr(item, "test_outputs", None) or []
    lines = [line for out in outputs
             if out.get("output_type") == "stream" and out.get("name") == "stdout"
             for line in str(out.get("text", "")).splitlines() if line.startswith(MARKER_PREFIX)]
    errors = [out for out in outputs if out.get("output_type") == "error"]
    problem = str(call.excinfo.value) if call.excinfo is not None else ""
    _write({
        "cell": item.cell_num,
        "passed": report.passed,
        "xfailed": hasattr(report, "wasxfail"),
        "ename": str(errors[-1].get("ename", "")) if errors else "",
        "evalue": str(errors[-1].get("evalue", ""))[:2000] if errors else "",
        "timeout": bool(re.search(r"Timeout of [^\n]*", problem)),
        "problem": _first_line(problem),
        "emitted": lines[:_MAX_LINES],
    })


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:500] if text.strip() else ""


def _report_setup_failure(item, call) -> None:
    """Say why the notebook's kernel could not be set up (no student code has run yet)."""
    if call.excinfo is None:
        problem = "setup"
    else:
        problem = f"{call.excinfo.typename}: {_first_line(str(call.excinfo.value))}".rstrip(": ")
    _write({"cell": item.cell_num, "event": "setup-failed", "problem": problem})
