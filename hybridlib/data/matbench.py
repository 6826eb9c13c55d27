"""Matbench tasks (``matbench_mp_e_form``, ``matbench_mp_gap``) with their official folds.

Needs the network on first use (matminer downloads the data set); cached on disk after.
Introduced in: chapter 5.6.
"""
from __future__ import annotations

import gzip
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from ..config import Profile, resolve_profile
from .joins import join_by_structure
from .paths import DataFormatError, cache_dir, read_json_gz
from .sample import NO_PAULING_WARNING, add_descriptors, clean_targets
from .splits import split_ids, subsample

__all__ = ["MATBENCH_TASKS", "MatbenchFold", "load_matbench_fold", "injected_task",
           "matbench_running_example"]

#: Matbench task name -> (our target name, matbench's column name)
MATBENCH_TASKS = {
    "matbench_mp_e_form": ("e_form", "e_form"),
    "matbench_mp_gap": ("band_gap", "gap pbe"),
}


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
        warnings.filterwarnings("ignore", message=NO_PAULING_WARNING, category=UserWarning)
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
            records = read_json_gz(path)
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
    profile = resolve_profile(profile)
    if task is None:
        from matbench.bench import MatbenchBenchmark

        task = MatbenchBenchmark(autoload=False, subset=[task_name]).tasks_map[task_name]
    if fold not in list(task.folds):
        raise ValueError(f"{task_name} has folds {list(task.folds)}, not {fold!r}")
    _cached_task_df(task, cache)
    target = MATBENCH_TASKS[task_name][0]
    train = _task_frame(*task.get_train_and_val_data(fold), target)
    test = _task_frame(*task.get_test_data(fold, include_target=True), target)
    if profile.data.n_materials is not None:
        n_test = round(profile.data.n_materials * len(test) / (len(train) + len(test)))
        train = subsample(train, profile.data.n_materials - n_test, profile.seed)
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


def matbench_running_example(profile: Profile) -> pd.DataFrame:
    """Fold 0 of ``matbench_mp_e_form`` with band gaps joined by structure and a val split.

    Raises:
        ValueError: the profile asks for the formula-grouped split (Matbench's official test
            folds are random; only the offline sample can be split by formula).
    """
    if profile.data.split != "random":
        raise ValueError(f"profile {profile.name!r} asks for the {profile.data.split!r} split, "
                         "but Matbench's official test folds are random: use the offline "
                         "sample (source='sample') for a formula-grouped split")
    e_form = load_matbench_fold("matbench_mp_e_form", 0, profile)
    gap = load_matbench_fold("matbench_mp_gap", 0, profile.with_(data={"n_materials": None}))
    gap_all = pd.concat([gap.train, gap.test], ignore_index=True)
    df = pd.concat([e_form.train.assign(split="train"), e_form.test.assign(split="test")],
                   ignore_index=True)
    joined = join_by_structure(df, gap_all[["material_id", "structure", "band_gap"]],
                               suffixes=("", "_gap"))
    df["band_gap"] = df["material_id"].map(dict(zip(joined["material_id"], joined["band_gap"])))
    val = set(split_ids(df.loc[df.split == "train", "material_id"], profile.seed,
                        profile.data.val_fraction, 0.0)["val"])
    df.loc[df["material_id"].isin(val), "split"] = "val"
    return add_descriptors(df)
