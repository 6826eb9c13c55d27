"""Safe on-disk caches: content fingerprints, atomic writes, corruption detection.

Arrays go to ``.npz`` (``allow_pickle=False``) and tensors to ``torch.save`` files read back
with ``weights_only=True``; nothing is unpickled. Every file is written to a temporary name
and renamed, with a sha256 sidecar, so an interrupted or damaged write is detected, reported
and rebuilt instead of being trusted. Introduced in: chapter 5.1.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["CacheCorruptedError", "fingerprint", "atomic_write_bytes", "save_arrays",
           "load_arrays", "save_tensors", "load_tensors", "cached"]


class CacheCorruptedError(OSError):
    """A cache file is truncated, altered or unreadable."""


def fingerprint(*parts: Any, length: int = 16) -> str:
    """Stable hex digest of JSON-serialisable parts (dicts are key-sorted)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically, with a sha256 sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(payload)
    tmp.replace(path)
    _digest_path(path).write_text(hashlib.sha256(payload).hexdigest())


def _verified_bytes(path: Path) -> bytes:
    try:
        payload = path.read_bytes()
        expected = _digest_path(path).read_text().strip()
    except OSError as exc:
        raise CacheCorruptedError(f"cache file {path} is unreadable or lacks its checksum: {exc}") from exc
    if hashlib.sha256(payload).hexdigest() != expected:
        raise CacheCorruptedError(f"cache file {path} does not match its checksum (truncated or altered)")
    return payload


def save_arrays(path: str | Path, **arrays: np.ndarray) -> None:
    """Save numpy arrays (no object dtype) to an ``.npz`` file atomically."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Load arrays saved by :func:`save_arrays`; raise :class:`CacheCorruptedError` if damaged."""
    import io
    import zipfile

    payload = _verified_bytes(Path(path))
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CacheCorruptedError(f"cache file {path} cannot be decoded: {exc}") from exc


def save_tensors(path: str | Path, obj: Any) -> None:
    """``torch.save`` tensors/dicts/lists atomically (loadable with ``weights_only=True``)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_tensors(path: str | Path) -> Any:
    """Load a file written by :func:`save_tensors` with ``torch.load(weights_only=True)``."""
    import io

    import torch

    payload = _verified_bytes(Path(path))
    try:
        return torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError/UnpicklingError/EOFError
        raise CacheCorruptedError(f"cache file {path} cannot be decoded: {exc}") from exc


def cached(path: str | Path, build: Callable[[], Any], *, save: Callable[[Path, Any], None],
           load: Callable[[Path], Any]) -> Any:
    """Return ``load(path)``; on a miss build and save; on corruption warn, rebuild, save."""
    path = Path(path)
    if path.exists():
        try:
            return load(path)
        except CacheCorruptedError as exc:
            warnings.warn(f"{exc}; rebuilding it", stacklevel=2)
    value = build()
    save(path, value)
    return value
