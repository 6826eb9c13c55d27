"""hybridlib.cache: checksummed atomic files, one builder per entry, early failure on bad folders.

The concurrency tests run real processes: two writers beside a reader, writers killed with
SIGKILL, two builders of one entry.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from hybridlib import cache

ROOT = Path(__file__).resolve().parents[1]


def _python(script: str, *args: str, **kwargs) -> subprocess.Popen:
    """A Python process running ``script`` with this checkout's hybridlib."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=env,
                            **kwargs)


def test_round_trip_and_the_checksum_is_inside_the_file(tmp_path):
    path = tmp_path / "a.npz"
    cache.save_arrays(path, x=np.arange(5.0), y=np.array(["a", "b"]))
    loaded = cache.load_arrays(path)
    np.testing.assert_array_equal(loaded["x"], np.arange(5.0))
    assert loaded["y"].tolist() == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]  # no sidecar, no temp file
    assert path.read_bytes().startswith(cache.MAGIC)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "does not match its checksum"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "does not match its checksum"),
    (lambda b: b[cache._HEADER_SIZE:], "lacks its checksum header"),  # a bare .npz
    (lambda b: b"", "lacks its checksum header"),
])
def test_damaged_files_are_detected(tmp_path, damage, message):
    path = tmp_path / "a.npz"
    cache.save_arrays(path, x=np.arange(1000.0))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(cache.CacheCorruptedError, match=message):
        cache.load_arrays(path)


def test_a_damaged_entry_is_reported_once_and_rebuilt(tmp_path):
    path = tmp_path / "entry"
    cache.atomic_write_bytes(path, b"old")
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    builds = []

    def build() -> bytes:
        builds.append(1)
        return b"new"

    with pytest.warns(UserWarning, match="checksum") as record:
        value = cache.cached(path, build, save=cache.atomic_write_bytes,
                             load=cache.read_verified_bytes)
    assert value == b"new" and builds == [1] and len(record) == 1
    assert cache.cached(path, build, save=cache.atomic_write_bytes,
                        load=cache.read_verified_bytes) == b"new" and builds == [1]


def test_an_unwritable_folder_fails_before_building(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")

    def build():
        raise AssertionError("built although the result could not be stored")

    with pytest.raises(cache.CacheNotWritableError, match="a_file"):
        cache.cached(blocker / "runs" / "x.npz", build, save=cache.atomic_write_bytes,
                     load=cache.read_verified_bytes)
    if os.geteuid() != 0:  # root writes into read-only folders
        locked = tmp_path / "read_only"
        locked.mkdir(mode=0o500)
        with pytest.raises(cache.CacheNotWritableError, match="read_only"):
            cache.cached(locked / "x", build, save=cache.atomic_write_bytes,
                         load=cache.read_verified_bytes)


WRITER = """
    import sys
    from pathlib import Path
    from hybridlib.cache import atomic_write_bytes

    path, tag, stop = Path(sys.argv[1]), sys.argv[2].encode(), Path(sys.argv[3])
    payloads = [tag * (1 << 18), tag * (3 << 17)]
    print("ready", flush=True)
    i = 0
    while not stop.exists():
        atomic_write_bytes(path, payloads[i % 2])
        i += 1
"""


def test_a_reader_beside_two_writers_never_sees_a_false_mismatch(tmp_path):
    """The probe: with the payload and its checksum written one after the other, 9 % of the
    reads beside two writers failed with "checksum mismatch"."""
    path, stop = tmp_path / "entry", tmp_path / "stop"
    cache.atomic_write_bytes(path, b"a" * (1 << 18))
    writers = [_python(WRITER, str(path), tag, str(stop), stdout=subprocess.PIPE, text=True)
               for tag in ("a", "b")]
    try:
        assert [w.stdout.readline().strip() for w in writers] == ["ready", "ready"]
        seen, errors, reads = set(), [], 0
        deadline = time.monotonic() + 60
        while (reads < 200 or len(seen) < 4) and time.monotonic() < deadline:
            reads += 1
            try:
                payload = cache.read_verified_bytes(path)
            except cache.CacheCorruptedError as exc:
                errors.append(str(exc))
                continue
            assert len(set(payload)) == 1, "a payload mixes two writers' bytes"
            seen.add((payload[:1], len(payload)))
    finally:
        stop.touch()
        for writer in writers:
            writer.wait(timeout=60)
    assert errors == []
    assert len(seen) == 4, f"the writers' four payloads were not all seen: {seen}"


KILLED_WRITER = """
    import sys
    from pathlib import Path
    from hybridlib.cache import atomic_write_bytes

    path = Path(sys.argv[1])
    payload = b"n" * (8 << 20)
    print("ready", flush=True)
    while True:
        atomic_write_bytes(path, payload)
"""


def test_a_writer_killed_at_any_moment_leaves_a_valid_entry(tmp_path):
    """The probe: 4 of 12 SIGKILLs left the entry flagged as corrupted."""
    path = tmp_path / "entry"
    cache.atomic_write_bytes(path, b"o" * (8 << 20))
    rng = np.random.default_rng(0)
    for delay in rng.uniform(0.05, 0.3, size=6):
        writer = _python(KILLED_WRITER, str(path), stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        payload = cache.read_verified_bytes(path)  # raises if the kill damaged the entry
        assert payload in (b"o" * (8 << 20), b"n" * (8 << 20))


BUILDER = """
    import sys, time
    from pathlib import Path
    from hybridlib.cache import atomic_write_bytes, cached, read_verified_bytes

    path, log = Path(sys.argv[1]), Path(sys.argv[2])

    def build():
        with log.open("a") as handle:
            handle.write(sys.argv[3] + "\\n")
        time.sleep(2.0)
        return sys.argv[3].encode()

    print("ready", flush=True)
    sys.stdin.readline()
    print(cached(path, build, save=atomic_write_bytes, load=read_verified_bytes).decode())
"""


def test_two_processes_asking_for_one_entry_build_it_once(tmp_path, start_together):
    path, log = tmp_path / "entry", tmp_path / "builds.log"
    outputs = start_together(BUILDER, [[str(path), str(log), name] for name in ("first", "second")])
    (builder,) = log.read_text().split()
    assert [out.strip() for out, _ in outputs] == [builder, builder]
    assert sum("waiting for another process" in err for _, err in outputs) == 1


def test_without_fcntl_entries_are_still_built_and_stored(tmp_path, monkeypatch):
    """Windows has no fcntl: no lock is taken, writes stay atomic and checked."""
    monkeypatch.setattr(cache, "fcntl", None)
    path = tmp_path / "entry"
    assert cache.cached(path, lambda: b"built", save=cache.atomic_write_bytes,
                        load=cache.read_verified_bytes) == b"built"
    assert cache.read_verified_bytes(path) == b"built"
