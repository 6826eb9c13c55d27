"""Run registry: every trained model's metrics and predictions, keyed by what produced them.

A run is stored under ``<root>/<experiment>/<key>.npz`` where ``key`` hashes the experiment
name, every profile field, a fingerprint of the data and the version of the code the
experiment depends on (a hash of those ``hybridlib`` source files). Asking again for the same
key returns the stored run at once; a changed profile, data file or source file gives a new
key, hence a new training run. The file holds the predictions table and a JSON description
that names the run it holds (name, key, profile): a file that is not the run asked for (e.g.
one experiment's file copied over another's) is reported and rebuilt, never served. Files are
written atomically with their checksum inside (:mod:`hybridlib.cache`), so a truncated,
altered or undecodable entry is detected, reported and rebuilt; a run being trained by one
process is waited for, not trained again, by another; and a registry folder that cannot be
written fails before training starts, not after. Beside each run,
``<experiment>/weights/<key>.npz`` keeps its trained model as arrays (:mod:`hybridlib.weights`),
under the same key, for :mod:`hybridlib.predict`.

Introduced in: chapter 5.1.
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from . import cache
from .config import Profile, resolve_profile

__all__ = ["Run", "Registry", "RunMismatchError", "code_version", "source_modules", "data_fingerprint", "run_key",
           "build_version"]

PACKAGE_DIR = Path(__file__).resolve().parent
FORMAT_VERSION = 3  # 3: checksum inside the file (hybridlib.cache)
#: Sub-folder of an experiment's folder holding its runs' trained weights.
WEIGHTS_DIR = "weights"


@dataclass
class Run:
    """One finished experiment.

    Attributes:
        name: experiment name (e.g. ``"cgcnn"``).
        profile: the profile it ran with.
        metrics: test metrics per target, ``{"e_form": {"mae", "rmse", "r2", "n"}}``.
        train_seconds: training wall time (for composite runs: their own fitting time).
        predictions: one row per material and split in ``{"val", "test"}`` (base models
            whose in-sample fit is studied also store ``"train"`` rows): ``material_id,
            split`` and, per target, the true value ``<target>`` and ``<target>_pred``
            (experiments may add columns, e.g. each source model's prediction).
        extra: JSON-serialisable details (validation metrics, chosen weights, curves...).
        key: registry key of the run.
    """

    name: str
    profile: Profile
    metrics: dict
    train_seconds: float
    predictions: pd.DataFrame
    extra: dict = field(default_factory=dict)
    key: str = ""

    @property
    def targets(self) -> list[str]:
        """Targets that have a ``<target>_pred`` column."""
        return [c[: -len("_pred")] for c in self.predictions.columns if c.endswith("_pred")
                and c[: -len("_pred")] in self.predictions.columns]

    def arrays(self, target: str, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """``(y_true, y_pred)`` of one target on one split, in the stored row order."""
        if f"{target}_pred" not in self.predictions:
            raise KeyError(f"run {self.name!r} has no predictions for {target!r}; "
                           f"it has {self.targets}")
        part = self.predictions[self.predictions["split"] == split]
        if part.empty:
            raise KeyError(f"run {self.name!r} has no rows in split {split!r}")
        return part[target].to_numpy(float), part[f"{target}_pred"].to_numpy(float)


# ---------------------------------------------------------------------- key parts

def _module_file(module: str) -> Path:
    """Source file of a dotted ``hybridlib`` module name (a package: its ``__init__.py``)."""
    base = PACKAGE_DIR.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imported_modules(path: Path, package: str) -> set[str]:
    """``hybridlib`` modules that the source at ``path`` imports anywhere (functions included).

    ``package`` is the dotted package of that source relative to ``hybridlib`` (for relative
    imports; ``""`` for the top level).
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = ["hybridlib", *package.split(".")] if package else ["hybridlib"]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if not name.startswith("hybridlib."):
                continue
            relative = name.removeprefix("hybridlib.")
            if _module_file(relative).is_file():
                found.add(relative)
    return found


def source_modules(module: str) -> tuple[str, ...]:
    """``module`` and every ``hybridlib`` module it imports, followed transitively.

    Args:
        module: a module name; a module outside ``hybridlib`` (a test's runner) contributes
            the ``hybridlib`` modules it imports, not itself.

    Returns:
        Sorted dotted names relative to ``hybridlib`` (``"train"``, ``"models.cgcnn"``,
        ``"features"`` for a package's ``__init__``): the source a run of this module's
        experiments depends on.
    """
    if module.startswith("hybridlib."):
        todo = [module.removeprefix("hybridlib.")]
    else:
        import sys

        todo = sorted(_imported_modules(Path(sys.modules[module].__file__), ""))
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = _module_file(current)
        package = current if path.name == "__init__.py" else current.rpartition(".")[0]
        todo += sorted(_imported_modules(path, package) - seen)
    return tuple(sorted(seen))


def code_version(modules: Iterable[str] | None = None) -> str:
    """Hash of the source of the given ``hybridlib`` modules (default: the whole package).

    A module that does not exist (yet) contributes its name, so adding it changes the hash.
    """
    files = sorted(PACKAGE_DIR.rglob("*.py")) if modules is None else sorted(
        {_module_file(m) for m in modules})
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()[:16]


_FILE_DIGESTS: dict[tuple, str] = {}


def _file_digest(path: Path) -> str:
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo not in _FILE_DIGESTS:
        _FILE_DIGESTS[memo] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _FILE_DIGESTS[memo]


def data_fingerprint(source: str | None = None) -> str:
    """Fingerprint of the data :func:`hybridlib.data.load_dataset` reads.

    The offline sample is identified by the sha256 of its file (memoised by size and
    mtime, so a registry hit never parses it); Matbench by its task names, whose data are
    fixed by the benchmark.
    """
    from .data import MATBENCH_TASKS
    from .data.dataset import data_source
    from .data.paths import sample_path

    if data_source(source) == "sample":
        return cache.fingerprint("sample", _file_digest(sample_path()))
    return cache.fingerprint("matbench", sorted(MATBENCH_TASKS))


def run_key(name: str, profile: Profile, data_fp: str, code: str,
            requires: Iterable[str] = ()) -> str:
    """Registry key of a run: hash of everything that determines its result."""
    return cache.fingerprint(FORMAT_VERSION, name, profile.as_dict(), data_fp, code,
                             sorted(requires), length=20)


# ---------------------------------------------------------------------- storage

def _encode(run: Run) -> dict[str, np.ndarray]:
    columns = list(run.predictions.columns)
    arrays = {}
    for i, column in enumerate(columns):
        values = run.predictions[column]
        arrays[f"c{i}"] = (values.to_numpy(dtype=float) if pd.api.types.is_numeric_dtype(values)
                           else values.astype(str).to_numpy(dtype=str))
    meta = {"name": run.name, "profile": run.profile.as_dict(), "metrics": run.metrics,
            "train_seconds": run.train_seconds, "extra": run.extra, "key": run.key,
            "columns": columns, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=True))
    return arrays


def _decode(arrays: dict[str, np.ndarray], path: Path) -> Run:
    try:
        meta = json.loads(str(arrays["meta"]))
        frame = pd.DataFrame({c: arrays[f"c{i}"] for i, c in enumerate(meta["columns"])})
        return Run(name=meta["name"], profile=Profile.from_dict(meta["profile"]),
                   metrics=meta["metrics"],
                   train_seconds=float(meta["train_seconds"]), predictions=frame,
                   extra=meta["extra"], key=meta["key"])
    except (KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise cache.CacheCorruptedError(f"run file {path} has an unreadable description: "
                                        f"{type(exc).__name__}: {exc}") from exc


class RunMismatchError(cache.CacheCorruptedError):
    """A registry file holds another run than the one asked for."""


def _check_identity(run: Run, path: Path, name: str, key: str, profile: Profile | None) -> Run:
    """``run`` if it is the run ``(name, key[, profile])``; else :class:`RunMismatchError`."""
    found = {"name": run.name, "key": run.key}
    wanted = {"name": name, "key": key}
    if profile is not None:
        found["profile"], wanted["profile"] = run.profile, profile
    wrong = sorted(field for field in wanted if found[field] != wanted[field])
    if wrong:
        raise RunMismatchError(
            f"run file {path} holds run {run.name!r} (key {run.key}), not the requested "
            f"{name!r} (key {key}); mismatched: {', '.join(wrong)}")
    return run


class Registry:
    """Runs on disk under ``root`` (default ``hybridlib.data.cache_dir() / "runs"``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        if root is None:
            from .data import cache_dir

            root = cache_dir() / "runs"
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    def path(self, name: str, key: str) -> Path:
        """File of the run ``name`` with key ``key``."""
        return self.root / name / f"{key}.npz"

    def _read(self, path: Path, name: str, key: str, profile: Profile | None) -> Run:
        return _check_identity(_decode(cache.load_arrays(path), path), path, name, key, profile)

    def load(self, name: str, key: str, *, profile: Profile | None = None) -> Run:
        """The stored run ``(name, key)``, checked to be that run (and to have ``profile``).

        Raises:
            FileNotFoundError: no such run is stored.
            CacheCorruptedError: the file is damaged (:class:`RunMismatchError`: it holds
                another run).
        """
        path = self.path(name, key)
        if not path.exists():
            raise FileNotFoundError(f"no stored run {name!r} with key {key}")
        return self._read(path, name, key, profile)

    def save(self, run: Run) -> Path:
        """Store ``run`` (atomically, with a checksum) under its name and key."""
        if not run.key:
            raise ValueError("a run needs its registry key before it is stored")
        path = self.path(run.name, run.key)
        cache.save_arrays(path, **_encode(run))
        return path

    def get_or_create(self, name: str, key: str, build: Callable[[], Run], *,
                      profile: Profile | None = None) -> Run:
        """The stored run ``(name, key)``; built and stored on a miss or a damaged entry.

        Another process building the same run is waited for, then its result is read. A
        folder that cannot be written raises :class:`hybridlib.cache.CacheNotWritableError`
        before ``build`` runs.

        Raises:
            ValueError: ``build`` returned a run with another name or key.
        """
        def checked_build() -> Run:
            run = build()
            if (run.name, run.key) != (name, key):
                raise ValueError(f"the builder of run {name!r} (key {key}) returned run "
                                 f"{run.name!r} (key {run.key})")
            return run

        return cache.cached(self.path(name, key), checked_build,
                            save=lambda _path, run: self.save(run),
                            load=lambda path: self._read(path, name, key, profile))

    def entries(self, name: str | None = None) -> list[Path]:
        """Files of the stored runs (of one experiment, or of all)."""
        pattern = f"{name}/*.npz" if name else "*/*.npz"
        return sorted(self.root.glob(pattern))

    # ------------------------------------------------------------ trained weights
    # Written by hybridlib.experiments.run beside each run, read by hybridlib.predict.

    def weights_path(self, name: str, key: str) -> Path:
        """File of the trained weights of run ``(name, key)``: beside the run, same key."""
        return self.root / name / WEIGHTS_DIR / f"{key}.npz"

    def save_weights(self, name: str, key: str, arrays: dict[str, np.ndarray],
                     meta: dict) -> Path:
        """Store a run's model as arrays plus a JSON description (atomically, with a checksum).

        Args:
            name, key: the run the weights belong to.
            arrays: numeric or string arrays (no object dtype; the file is read back with
                ``allow_pickle=False``).
            meta: JSON-serialisable description (:class:`hybridlib.weights.ModelWeights`).
        """
        if "meta" in arrays:
            raise ValueError("'meta' is reserved for the description of the weights")
        path = self.weights_path(name, key)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.array(json.dumps({**meta, "name": name,
                                                              "key": key})), **arrays)
        cache.atomic_write_bytes(path, buffer.getvalue())
        return path

    def load_weights(self, name: str, key: str) -> tuple[dict, dict[str, np.ndarray]]:
        """``(meta, arrays)`` stored by :meth:`save_weights` for run ``(name, key)``.

        Raises:
            FileNotFoundError: the run has no stored weights.
            CacheCorruptedError: the file is damaged, or belongs to another run (a file
                copied under another key is refused, so a changed recipe never serves
                old weights).
        """
        path = self.weights_path(name, key)
        if not path.exists():
            raise FileNotFoundError(f"no stored weights of run {name!r} with key {key}")
        arrays = cache.load_arrays(path)
        try:
            meta = json.loads(str(arrays.pop("meta")))
        except (KeyError, ValueError) as exc:
            raise cache.CacheCorruptedError(f"weights file {path} has an unreadable "
                                            f"description: {exc}") from exc
        if meta.get("name") != name or meta.get("key") != key:
            raise cache.CacheCorruptedError(
                f"weights file {path} belongs to run {meta.get('name')!r} with key "
                f"{meta.get('key')}, not to {name!r} with key {key}")
        return meta, arrays


def build_version(profile: Profile | str | None = None) -> str:
    """One string that changes whenever a book build's results may change."""
    return f"{resolve_profile(profile).name}-{code_version()}-{data_fingerprint()}"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--version"]:
        sys.exit("usage: python -m hybridlib.results --version")
    print(build_version())
