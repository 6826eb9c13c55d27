"""Safe on-disk caches: content fingerprints, atomic checksummed files, one builder per entry.

Arrays go to ``.npz`` payloads (``allow_pickle=False``) and tensors to ``torch.save``
payloads read back with ``weights_only=True``; nothing is unpickled. Every cache file holds
its own sha256 in a one-line header followed by the payload, and is written to a private
temporary name and renamed into place: a reader sees the old file or the new one, never a
payload with someone else's checksum, and a writer killed half-way leaves the previous entry
intact. A truncated, altered or foreign file is detected, reported and rebuilt.

:func:`cached` lets one process build a missing entry while others wait for it (an advisory
``fcntl`` lock file beside the entry; where ``fcntl`` is missing, as on Windows, entries may
be built twice, which is harmless because writes are atomic). Taking that lock also checks,
before any work, that the cache folder can be written. Introduced in: chapter 5.1.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["CacheCorruptedError", "CacheNotWritableError", "fingerprint", "atomic_write_bytes",
           "read_verified_bytes", "save_arrays", "load_arrays", "save_tensors", "load_tensors",
           "file_lock", "lock_path", "cached"]

#: First bytes of every cache file; the sha256 of the payload follows, then a newline.
MAGIC = b"hybridlib-cache sha256="
_HEADER_SIZE = len(MAGIC) + 64 + 1


class CacheCorruptedError(OSError):
    """A cache file is truncated, altered, foreign or unreadable."""


class CacheNotWritableError(OSError):
    """The folder of a cache entry cannot be created or written."""


def fingerprint(*parts: Any, length: int = 16) -> str:
    """Stable hex digest of JSON-serialisable parts (dicts are key-sorted)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _writable_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheNotWritableError(
            f"cannot create the cache folder {folder} ({type(exc).__name__}: {exc}); point "
            "HYBRIDLIB_CACHE_DIR (or the registry argument) at a writable folder") from exc
    return folder


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write ``payload`` with its sha256 header to ``path`` in one atomic rename."""
    path = Path(path)
    folder = _writable_folder(path.parent)
    tmp = folder / f".{path.name}.{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}.tmp"
    try:
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n")
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_verified_bytes(path: str | Path) -> bytes:
    """The payload of a file written by :func:`atomic_write_bytes`, checked against its header.

    Raises:
        CacheCorruptedError: the file is unreadable, lacks the header, or its payload does not
            match the checksum (truncated or altered).
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CacheCorruptedError(f"cache file {path} is unreadable: {exc}") from exc
    header, payload = content[:_HEADER_SIZE], content[_HEADER_SIZE:]
    if not (header.startswith(MAGIC) and header.endswith(b"\n")):
        raise CacheCorruptedError(f"cache file {path} lacks its checksum header (not written "
                                  "by hybridlib.cache, or truncated)")
    if hashlib.sha256(payload).hexdigest().encode() != header[len(MAGIC):-1]:
        raise CacheCorruptedError(f"cache file {path} does not match its checksum "
                                  "(truncated or altered)")
    return payload


def save_arrays(path: str | Path, **arrays: np.ndarray) -> None:
    """Save numpy arrays (no object dtype) as an ``.npz`` payload, atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Load arrays saved by :func:`save_arrays`; raise :class:`CacheCorruptedError` if damaged."""
    import zipfile

    payload = read_verified_bytes(path)
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CacheCorruptedError(f"cache file {path} cannot be decoded: {exc}") from exc


def save_tensors(path: str | Path, obj: Any) -> None:
    """``torch.save`` tensors/dicts/lists atomically (loadable with ``weights_only=True``)."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_tensors(path: str | Path) -> Any:
    """Load a file written by :func:`save_tensors` with ``torch.load(weights_only=True)``."""
    import torch

    payload = read_verified_bytes(path)
    try:
        return torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError/UnpicklingError/EOFError
        raise CacheCorruptedError(f"cache file {path} cannot be decoded: {exc}") from exc


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if needed), waiting for it.

    Raises:
        CacheNotWritableError: the lock file cannot be created (folder missing, a file or
            read-only).
    """
    path = Path(path)
    _writable_folder(path.parent)
    try:
        handle = open(path, "a+b")
    except OSError as exc:
        raise CacheNotWritableError(
            f"cannot write in the cache folder {path.parent} ({type(exc).__name__}: {exc}); "
            "point HYBRIDLIB_CACHE_DIR (or the registry argument) at a writable folder") from exc
    with handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another process holding {path} ...", file=sys.stderr,
                      flush=True)
                fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def lock_path(path: Path) -> Path:
    """The lock file that guards building the cache entry ``path``."""
    return path.with_name(f".{path.name}.lock")


def cached(path: str | Path, build: Callable[[], Any], *, save: Callable[[Path, Any], None],
           load: Callable[[Path], Any]) -> Any:
    """Return ``load(path)``; on a miss (or a damaged entry: warning) build and save.

    A miss takes the entry's lock first, so concurrent callers build it once: the others
    wait and then load what the first one saved. The lock also fails early, before
    ``build`` runs, when the folder cannot be written.
    """
    path = Path(path)
    reported: list[str] = []

    def stored() -> tuple[bool, Any]:
        if not path.exists():
            return False, None
        try:
            return True, load(path)
        except CacheCorruptedError as exc:
            if str(exc) not in reported:
                reported.append(str(exc))
                warnings.warn(f"{exc}; rebuilding it", stacklevel=3)
            return False, None

    found, value = stored()
    if found:
        return value
    with file_lock(lock_path(path)):
        found, value = stored()  # another process may have built it while we waited
        if found:
            return value
        value = build()
        save(path, value)
    return value
