"""Run a registered experiment on the official Matbench folds and write Matbench's results file.

::

    python -m tools.matbench_run --model cgcnn --task matbench_mp_e_form \\
        [--profile full] [--folds 0 1 2 3 4] [--out DIR] [--sample N]

For each fold the fold's training part is split into train and validation by
:func:`hybridlib.data.split_ids` (validation is used for early stopping and every other
choice), the experiment is trained through :func:`hybridlib.experiments.run` on that table
(cached in the run registry, so an interrupted benchmark resumes fold by fold), its
predictions for the whole test fold are recorded with ``MatbenchTask.record``, and the
benchmark (``MatbenchBenchmark.as_dict()``) is written gzip-compressed to
``DIR/results.json.gz``, the file a Matbench submission holds (matbench 0.6's own ``to_file``
writes uncompressed JSON whatever the name; read it back with
``MatbenchBenchmark.from_dict(json.load(gzip.open(path, "rt")))``). Torch models use the GPU when
one is present. ``--sample N`` runs the same path offline on ``N`` materials of the shared
sample, with folds made by Matbench's own recipe (:func:`hybridlib.data.injected_task`).

Introduced in: chapter 5.6.
"""
from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from hybridlib.config import Profile, resolve_profile

__all__ = ["fold_frame", "run_matbench", "main"]


def fold_frame(task, fold: int, profile: Profile) -> pd.DataFrame:
    """One fold as a table with a ``split`` column (train/val from the fold's training part).

    The test rows are the whole test fold, in Matbench's order; with ``profile.data.n_materials``
    set, the training part (only) is subsampled by id hash.
    """
    from hybridlib.data import MATBENCH_TASKS, load_matbench_fold, split_ids, subsample

    data = load_matbench_fold(task.dataset_name, fold, profile.with_(data={"n_materials": None}),
                              task=task)
    train = data.train
    if profile.data.n_materials is not None:
        train = subsample(train, profile.data.n_materials, profile.seed)
    val_ids = set(split_ids(train["material_id"], profile.seed, profile.data.val_fraction,
                            0.0)["val"])
    train = train.assign(split=np.where(train["material_id"].isin(val_ids), "val", "train"))
    expected = list(task.validation[task.folds_map[fold]].test)
    if list(data.test["material_id"]) != expected:
        raise ValueError(f"fold {fold} of {task.dataset_name}: test rows differ from Matbench's "
                         f"test ids (missing or reordered targets)")
    target = MATBENCH_TASKS[task.dataset_name][0]
    return pd.concat([train, data.test.assign(split="test")], ignore_index=True)[
        ["material_id", "formula", "structure", target, "split"]]


def run_matbench(model: str, task_name: str, profile: Profile | str | None = None, *,
                 folds: Sequence[int] | None = None, out: str | Path | None = None,
                 task=None, registry=None) -> Path:
    """Train experiment ``model`` on each fold, record the test predictions, write the results.

    Args:
        model: a name from :func:`hybridlib.experiments.available` (single-target models
            predict the task's target).
        task_name: ``matbench_mp_e_form`` or ``matbench_mp_gap``.
        profile: sizes and training budget (default: ``HYBRIDLIB_PROFILE``).
        folds: fold numbers (default: all five).
        out: output folder (default ``matbench_results/<model>/<task>``).
        task: an already loaded ``MatbenchTask`` (e.g. :func:`hybridlib.data.injected_task`);
            default: the real task, loaded through our on-disk cache.
        registry: run registry (default ``cache_dir()/runs``).

    Returns:
        Path of the written ``results.json.gz``.
    """
    from matbench.bench import MatbenchBenchmark

    from hybridlib import __version__, experiments
    from hybridlib.data import MATBENCH_TASKS
    from hybridlib.train import resolve_device

    profile = resolve_profile(profile)
    if task_name not in MATBENCH_TASKS:
        raise ValueError(f"unsupported task {task_name!r}; choose from {sorted(MATBENCH_TASKS)}")
    if model not in experiments.available():
        raise ValueError(f"unknown model {model!r}; choose from {experiments.available()}")
    benchmark = MatbenchBenchmark(autoload=False, subset=[task_name])
    if task is not None:
        benchmark.tasks_map[task_name] = task
    task = benchmark.tasks_map[task_name]
    target = MATBENCH_TASKS[task_name][0]
    folds = list(task.folds) if folds is None else [int(f) for f in folds]
    device = str(resolve_device("auto"))
    for fold in folds:
        frame = fold_frame(task, fold, profile)
        start = time.perf_counter()
        result = experiments.run(model, profile, registry=registry,
                                 frame=experiments.Frame(frame, (target,)))
        test = result.predictions[result.predictions["split"] == "test"]
        predictions = test.set_index("material_id").loc[
            frame.loc[frame["split"] == "test", "material_id"], f"{target}_pred"]
        task.record(fold, predictions.to_numpy(dtype=float), params={
            "model": model, "profile": profile.name, "device": device,
            "train_seconds": float(result.train_seconds),
            "wall_seconds": time.perf_counter() - start,
            "val_mae": float(result.extra["val_metrics"][target]["mae"]),
            "run_key": result.key})
        n_train = int((frame["split"] == "train").sum())
        print(f"{task_name} fold {fold}: {model} test MAE {result.metrics[target]['mae']:.4f} "
              f"(n_train={n_train}, {result.train_seconds:.0f} s on {device})")
    benchmark.add_metadata({"model": model, "profile": json.dumps(profile.as_dict()),
                            "hybridlib_version": __version__})
    out = Path(out) if out is not None else Path("matbench_results") / model / task_name
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(benchmark.as_dict(), handle)
    return path


def main(argv: Sequence[str] | None = None) -> Path:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.matbench_run",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="registered experiment, e.g. cgcnn")
    parser.add_argument("--task", required=True, help="matbench_mp_e_form or matbench_mp_gap")
    parser.add_argument("--profile", default=None, help="ci, book or full")
    parser.add_argument("--folds", type=int, nargs="+", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--sample", type=int, default=None, metavar="N",
                        help="offline dry run on N materials of the shared sample")
    args = parser.parse_args(argv)
    task = None
    if args.sample is not None:
        from hybridlib.data import injected_task, load_mp_sample, subsample

        task = injected_task(args.task, subsample(load_mp_sample(), args.sample))
    path = run_matbench(args.model, args.task, args.profile, folds=args.folds, out=args.out,
                        task=task)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
