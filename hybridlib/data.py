"""Real data for the book: the offline Materials Project sample and Matbench tasks.

* :func:`load_mp_sample` reads ``mp_hybrid_sample.json.gz`` (MP-20 crystals with formation
  energy and band gap) from ``HYBRIDLIB_DATA_DIR`` or ``../shared/data`` beside the repository.
* :func:`load_matbench_fold` loads ``matbench_mp_e_form`` / ``matbench_mp_gap`` through
  ``matbench`` with the official folds, cached on disk and subsampled by profile.
* :func:`join_by_structure` joins two tasks by crystal identity, never by row position.
* :func:`split_ids` / :func:`assign_splits` give seeded splits that depend only on the ids.

Every table has the columns ``material_id, formula, structure`` plus target columns.
Introduced in: chapter 5.1.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import warnings
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from .config import Profile, get_profile

__all__ = [
    "DataNotFoundError", "DataFormatError", "EmptyDatasetError",
    "SAMPLE_FILE", "TARGETS", "MATBENCH_TASKS",
    "data_dir", "cache_dir", "load_mp_sample", "clean_targets", "subsample",
    "split_ids", "assign_splits", "load_dataset", "structure_key",
    "join_by_structure", "MatbenchFold", "load_matbench_fold", "injected_task",
]

SAMPLE_FILE = "mp_hybrid_sample.json.gz"
TARGETS = ("e_form", "band_gap")
#: Matbench task name -> (our target name, matbench's column name)
MATBENCH_TASKS = {
    "matbench_mp_e_form": ("e_form", "e_form"),
    "matbench_mp_gap": ("band_gap", "gap pbe"),
}
DATA_ENV, CACHE_ENV = "HYBRIDLIB_DATA_DIR", "HYBRIDLIB_CACHE_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[1]


class DataNotFoundError(FileNotFoundError):
    """The offline data could not be found where it is looked for."""


class DataFormatError(ValueError):
    """A data or cache file exists but cannot be read (truncated, corrupted, wrong schema)."""


class EmptyDatasetError(ValueError):
    """Nothing is left after filtering."""


def data_dir() -> Path:
    """Folder holding the offline sample: ``$HYBRIDLIB_DATA_DIR`` or ``../shared/data``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else _REPO_ROOT.parent / "shared" / "data"


def cache_dir() -> Path:
    """Folder for caches and the run registry: ``$HYBRIDLIB_CACHE_DIR`` or ``~/.cache/hybridlib``."""
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "hybridlib"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_json_gz(path: Path) -> list:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(
            f"cannot read {path}: the file is truncated or corrupted ({type(exc).__name__}: "
            f"{exc}); restore it from its source (its README gives the sha256)"
        ) from exc


_NO_PAULING = "No Pauling electronegativity"  # pymatgen warns for He, Ar, ... (sorting formulas)


def _parse_structures(records: list, path: Path) -> list[Structure]:
    structures = []
    for record in records:
        try:
            structures.append(Structure.from_dict(record["structure"]))
        except Exception as exc:  # pymatgen raises many types for a bad dict
            raise DataFormatError(
                f"{path}: the structure of {record.get('material_id', '<no material_id>')!r} "
                f"does not parse ({type(exc).__name__}: {exc})"
            ) from exc
    return structures


def clean_targets(df: pd.DataFrame, targets: Iterable[str], *, strict: bool = False,
                  how: str = "any") -> pd.DataFrame:
    """Drop rows whose targets are missing, NaN or infinite, with a counted warning.

    Args:
        df: table with the target columns.
        targets: columns to check.
        strict: raise instead of dropping.
        how: ``"any"`` drops a row when any target is bad, ``"all"`` only when all are.

    Raises:
        DataFormatError: a bad target and ``strict=True``.
        EmptyDatasetError: no row is left.
    """
    targets = list(targets)
    values = df[targets].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    drop = bad.any(axis=1) if how == "any" else bad.all(axis=1)
    if drop.any():
        counts = {t: int(bad[:, i].sum()) for i, t in enumerate(targets) if bad[:, i].any()}
        examples = df.loc[drop, "material_id"].head(3).tolist()
        message = (f"{int(drop.sum())} of {len(df)} rows have missing/NaN/inf targets "
                   f"{counts} (e.g. {examples})")
        if strict:
            raise DataFormatError(message)
        warnings.warn(message + "; they are dropped", stacklevel=2)
        df = df.loc[~drop].reset_index(drop=True)
    if df.empty:
        raise EmptyDatasetError(f"no rows left after dropping bad targets {targets}")
    return df


def load_mp_sample(path: str | Path | None = None, *, strict: bool = False) -> pd.DataFrame:
    """Load the offline MP sample as a table.

    Args:
        path: the ``.json.gz`` file; default ``data_dir() / SAMPLE_FILE``.
        strict: raise on bad targets instead of dropping them with a warning.

    Returns:
        DataFrame with ``material_id, formula, structure, e_form, band_gap, n_sites,
        n_elements``, one row per material, in file order.
    """
    path = Path(path) if path is not None else data_dir() / SAMPLE_FILE
    if not path.is_file():
        raise DataNotFoundError(
            f"offline sample not found: {path}. It is looked for in ${DATA_ENV} "
            f"(now {os.environ.get(DATA_ENV)!r}) or in ../shared/data beside the repository. "
            f"Point {DATA_ENV} at the folder holding {SAMPLE_FILE}, or load Matbench online "
            f"with hybridlib.data.load_dataset(source='matbench')."
        )
    records = _read_json_gz(path)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFormatError(f"{path}: expected a JSON list of records")
    required = {"material_id", "structure", *TARGETS}
    for record in records:
        missing = required - record.keys()
        if missing:
            raise DataFormatError(
                f"{path}: record {record.get('material_id', '<no material_id>')!r} lacks "
                f"{sorted(missing)}")
    ids = [r["material_id"] for r in records]
    if len(set(ids)) != len(ids):
        raise DataFormatError(f"{path}: material_id values are not unique")
    df = pd.DataFrame({
        "material_id": ids,
        **{t: [r[t] if r[t] is not None else math.nan for r in records] for t in TARGETS},
    })
    df = clean_targets(df, TARGETS, strict=strict)
    keep = set(df["material_id"])
    records = [r for r in records if r["material_id"] in keep]
    structures = _parse_structures(records, path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_PAULING, category=UserWarning)
        df.insert(1, "formula", [s.composition.reduced_formula for s in structures])
    df.insert(2, "structure", structures)
    return _add_descriptors(df)


def _add_descriptors(df: pd.DataFrame) -> pd.DataFrame:
    df["n_sites"] = [len(s) for s in df["structure"]]
    df["n_elements"] = [len(s.composition.elements) for s in df["structure"]]
    return df


def _unit_hash(key: str, seed: int, purpose: str) -> float:
    """A uniform number in [0, 1) from (purpose, seed, key); purposes are independent."""
    digest = hashlib.sha256(f"{purpose}:{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def subsample(df: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """Keep ``n`` rows chosen by a seeded hash of ``material_id`` (order-independent)."""
    if n is None or n >= len(df):
        return df.reset_index(drop=True)
    order = np.argsort([_unit_hash(m, seed, "subsample") for m in df["material_id"]], kind="stable")
    return df.iloc[np.sort(order[:n])].reset_index(drop=True)


def split_ids(ids: Iterable[str], seed: int = 0, val_fraction: float = 0.1,
              test_fraction: float = 0.2) -> dict[str, list[str]]:
    """Seeded train/val/test assignment that depends only on each id and the seed.

    The same id always lands in the same part, whatever the row order or the other ids,
    so adding or reordering rows never moves a material between parts.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad fractions: val={val_fraction}, test={test_fraction}")
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for material_id in ids:
        u = _unit_hash(material_id, seed, "split")
        part = "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
        parts[part].append(material_id)
    return parts


def assign_splits(df: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Add a ``split`` column (train/val/test) from :func:`split_ids`."""
    parts = split_ids(df["material_id"], profile.seed, profile.val_fraction, profile.test_fraction)
    where = {m: part for part, ids in parts.items() for m in ids}
    df = df.copy()
    df["split"] = df["material_id"].map(where)
    return df


def load_dataset(profile: Profile | str | None = None, source: str | None = None) -> pd.DataFrame:
    """The book's running example: materials with both targets and a fixed split.

    Args:
        profile: sizes and seed (default: ``HYBRIDLIB_PROFILE``).
        source: ``"sample"`` (offline MP sample) or ``"matbench"`` (official fold 0 of
            ``matbench_mp_e_form``, band gaps joined from ``matbench_mp_gap`` by structure).
            Default: ``$HYBRIDLIB_SOURCE``, else the sample when it is present, else Matbench.
    """
    profile = get_profile(profile) if not isinstance(profile, Profile) else profile
    source = source or os.environ.get("HYBRIDLIB_SOURCE") or (
        "sample" if (data_dir() / SAMPLE_FILE).is_file() else "matbench")
    if source == "sample":
        df = subsample(load_mp_sample(), profile.n_materials, profile.seed)
        return assign_splits(df, profile)
    if source == "matbench":
        return _matbench_running_example(profile)
    raise ValueError(f"unknown source {source!r}: use 'sample' or 'matbench'")


def _matbench_running_example(profile: Profile) -> pd.DataFrame:
    e_form = load_matbench_fold("matbench_mp_e_form", 0, profile)
    gap = load_matbench_fold("matbench_mp_gap", 0, profile.with_(n_materials=None))
    gap_all = pd.concat([gap.train, gap.test], ignore_index=True)
    df = pd.concat([e_form.train.assign(split="train"), e_form.test.assign(split="test")],
                   ignore_index=True)
    joined = join_by_structure(df, gap_all[["material_id", "structure", "band_gap"]],
                               suffixes=("", "_gap"))
    df["band_gap"] = df["material_id"].map(dict(zip(joined["material_id"], joined["band_gap"])))
    val = set(split_ids(df.loc[df.split == "train", "material_id"], profile.seed,
                        profile.val_fraction, 0.0)["val"])
    df.loc[df["material_id"].isin(val), "split"] = "val"
    return _add_descriptors(df)


# --------------------------------------------------------------------------- joins

def structure_key(structure: Structure, decimals: int = 2) -> tuple:
    """A canonical key for crystal identity: reduced formula, sites and volume per atom.

    Equal crystals have equal keys (the key ignores site order, cell choice and
    translation); different crystals may collide, so :func:`join_by_structure` confirms
    collisions with pymatgen's ``StructureMatcher``.
    """
    volume = round(structure.volume / len(structure), decimals)
    return structure.composition.reduced_formula, volume


def join_by_structure(left: pd.DataFrame, right: pd.DataFrame, *,
                      suffixes: tuple[str, str] = ("_left", "_right"),
                      report: bool = True) -> pd.DataFrame:
    """Inner-join two tables on crystal identity (never on row position).

    Rows are matched by :func:`structure_key`; a key shared by more than one row on
    either side is resolved with ``StructureMatcher`` (each right row used once).

    Returns:
        One row per matched pair, with both tables' columns (``suffixes`` on clashes).
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    buckets: dict[tuple, list[int]] = defaultdict(list)
    for j, s in enumerate(right["structure"]):
        buckets[structure_key(s)].append(j)
    left_keys = [structure_key(s) for s in left["structure"]]
    left_count = defaultdict(int)
    for key in left_keys:
        left_count[key] += 1
    matcher = StructureMatcher()
    pairs, used, n_confirmed = [], set(), 0
    for i, key in enumerate(left_keys):
        candidates = [j for j in buckets.get(key, ()) if j not in used]
        if not candidates:
            continue
        if len(candidates) == 1 and len(buckets[key]) == 1 and left_count[key] == 1:
            j = candidates[0]
        else:
            j = next((c for c in candidates
                      if matcher.fit(left["structure"].iat[i], right["structure"].iat[c])), None)
            n_confirmed += 1
            if j is None:
                continue
        used.add(j)
        pairs.append((i, j))
    li, rj = (list(t) for t in zip(*pairs)) if pairs else ([], [])
    joined = pd.concat([left.iloc[li].reset_index(drop=True).add_suffix(suffixes[0]),
                        right.iloc[rj].reset_index(drop=True).add_suffix(suffixes[1])], axis=1)
    joined = joined.rename(columns={c + suffixes[0]: c for c in left.columns})
    if report:
        print(f"join_by_structure: {len(pairs)} matched of {len(left)} left / {len(right)} "
              f"right rows ({n_confirmed} key collisions checked with StructureMatcher)")
    joined.attrs["n_matched"], joined.attrs["n_collisions_checked"] = len(pairs), n_confirmed
    return joined


# ------------------------------------------------------------------------ Matbench

@dataclass
class MatbenchFold:
    """Train and test tables of one official Matbench fold (ids are Matbench ids)."""

    task_name: str
    fold: int
    target: str
    train: pd.DataFrame
    test: pd.DataFrame


def _task_frame(inputs: pd.Series, outputs: pd.Series, target: str) -> pd.DataFrame:
    df = pd.DataFrame({"material_id": list(inputs.index), "structure": list(inputs.values),
                       target: np.asarray(outputs.values, dtype=float)})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_PAULING, category=UserWarning)
        df.insert(1, "formula", [s.composition.reduced_formula for s in df["structure"]])
    return df


def _cached_task_df(task, cache: Path | None):
    """Load a MatbenchTask's data, from our on-disk cache when present (network otherwise)."""
    if task.df is not None:
        return
    cache = cache or cache_dir() / "matbench"
    path = cache / f"{task.dataset_name}.json.gz"
    column = task.metadata.target
    if path.is_file():
        try:
            records = _read_json_gz(path)
            task.df = pd.DataFrame(
                {"structure": [Structure.from_dict(r["structure"]) for r in records],
                 column: [r["target"] for r in records]},
                index=pd.Index([r["mbid"] for r in records], name="mbid"))
            return
        except (DataFormatError, KeyError, TypeError) as exc:
            warnings.warn(f"Matbench cache {path} is unreadable ({exc}); downloading again",
                          stacklevel=3)
    task.load()  # matbench -> matminer download (needs the network)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [{"mbid": i, "structure": s.as_dict(), "target": float(t)}
               for i, s, t in zip(task.df.index, task.df["structure"], task.df[column])]
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        json.dump(records, handle)
    tmp.replace(path)


def load_matbench_fold(task_name: str, fold: int = 0, profile: Profile | str | None = None, *,
                       task=None, cache: Path | None = None) -> MatbenchFold:
    """One official fold of a Matbench task, subsampled by profile.

    Args:
        task_name: ``matbench_mp_e_form`` or ``matbench_mp_gap``.
        fold: official fold number (0-4).
        profile: sizes; ``n_materials`` caps train + test (hash-subsampled by id).
        task: an already loaded ``MatbenchTask`` (tests inject the offline sample here).
        cache: folder of our cached copy of the task data.
    """
    if task_name not in MATBENCH_TASKS:
        raise ValueError(f"unsupported task {task_name!r}; choose from {sorted(MATBENCH_TASKS)}")
    profile = get_profile(profile) if not isinstance(profile, Profile) else profile
    if task is None:
        from matbench.bench import MatbenchBenchmark

        task = MatbenchBenchmark(autoload=False, subset=[task_name]).tasks_map[task_name]
    _cached_task_df(task, cache)
    target = MATBENCH_TASKS[task_name][0]
    train = _task_frame(*task.get_train_and_val_data(fold), target)
    test = _task_frame(*task.get_test_data(fold, include_target=True), target)
    if profile.n_materials is not None:
        n_test = round(profile.n_materials * len(test) / (len(train) + len(test)))
        train = subsample(train, profile.n_materials - n_test, profile.seed)
        test = subsample(test, n_test, profile.seed)
    train = clean_targets(train, [target])
    test = clean_targets(test, [target])
    return MatbenchFold(task_name, fold, target, train, test)


def injected_task(task_name: str, df: pd.DataFrame, n_folds: int = 5):
    """A real ``MatbenchTask`` whose data and folds come from ``df`` instead of the network.

    The folds follow Matbench's own recipe (KFold, 5 splits, shuffle, random_state
    18012019) over ``df``'s ids, so the whole Matbench code path (fold lookup,
    ``record``, scoring) runs offline on the shared sample.
    """
    from matbench.task import MatbenchTask
    from matbench.util import RecursiveDotDict
    from sklearn.model_selection import KFold

    target, column = MATBENCH_TASKS[task_name]
    task = MatbenchTask(task_name, autoload=False)
    ids = list(df["material_id"])
    task.df = pd.DataFrame({"structure": list(df["structure"]), column: list(df[target])},
                           index=pd.Index(ids, name="mbid"))
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=18012019).split(ids)
    task.validation = RecursiveDotDict({
        f"fold_{k}": {"train": [ids[i] for i in tr], "test": [ids[i] for i in te]}
        for k, (tr, te) in enumerate(folds)})
    task.folds_keys = list(task.validation.keys())
    task.folds_nums = task.folds = list(range(n_folds))
    task.folds_map = dict(zip(task.folds_nums, task.folds_keys))
    return task
