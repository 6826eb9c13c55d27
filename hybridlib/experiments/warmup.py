"""Fill the run registry before a book build: ``python -m hybridlib.experiments --jobs 2``.

(The command runs :func:`main` of this module; the workers import it by name, as the
``spawn`` start method requires.)

Trains every experiment the chapters read that the registry does not hold yet, in
``--jobs`` worker processes with one torch thread each (on small graphs two
single-threaded trainings finish sooner than one with two threads):

* every registered experiment on the profile;
* the learning-curve points of chapter 5.1 (:data:`LEARNING_CURVE_MODELS`);
* the extra seeds of chapter 5.6's headline models (:data:`SEED_MODELS`, seeds
  :data:`SEEDS`; :func:`~hybridlib.experiments.seed_profiles`);
* the formula-grouped split of chapter 5.6's robustness table
  (:data:`GROUPED_SPLIT_MODELS`; :func:`~hybridlib.experiments.grouped_split_profile`).

Jobs start longest first (a rough cost per model family), so the two workers finish close
together; experiments that combine others (late fusion, stacking) run in a second round,
once what they read exists. The chapters then read every result from the registry, so a
book build executes no training.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

from . import _lookup, available, grouped_split_profile, learning_curve_profiles, run, \
    seed_profiles
from ..config import resolve_profile

__all__ = ["LEARNING_CURVE_MODELS", "SEED_MODELS", "SEEDS", "GROUPED_SPLIT_MODELS",
           "COMBINED_MODELS", "plan", "main"]

#: Experiments whose learning curves chapter 5.1 draws.
LEARNING_CURVE_MODELS = ("rf_magpie", "cgcnn")
#: The headline models of chapter 5.6, trained with every seed of :data:`SEEDS`: the best
#: composition model, the graph baseline and the best early fusion of chapter 5.2 (their
#: late fusion and stacking follow for free, :data:`COMBINED_MODELS`). ALIGNN costs about
#: ten CGCNN runs a seed and MEGNet two: they are reported from one seed with bootstrap
#: intervals.
SEED_MODELS = ("rf_magpie", "cgcnn", "early_fusion_no_dropout")
#: Model seeds besides the ordinary run's ``training.seed = 0``.
SEEDS = (1, 2)
#: Models of chapter 5.6's robustness table, also trained on the formula-grouped split.
GROUPED_SPLIT_MODELS = ("rf_magpie", "cgcnn", "early_fusion_no_dropout")
#: Combinations of base runs, built wherever their base runs are (seeds, grouped split).
COMBINED_MODELS = ("late_fusion_val", "stacking")

#: Rough cost of one run relative to CGCNN, by name prefix (only orders the jobs).
_COST = {"alignn_simple": 2.0, "alignn": 10.0, "megnet": 1.8, "rf_": 0.3}


def _cost(job) -> float:
    name, profile = job
    return next((c for prefix, c in _COST.items() if name.startswith(prefix)), 1.0)


def _train(job: tuple[str, object]) -> tuple[str, str, float]:
    import torch

    torch.set_num_threads(1)
    name, profile = job
    start = time.perf_counter()
    run(name, profile)
    return name, _label(profile), time.perf_counter() - start


def _label(profile) -> str:
    parts = [f"n={profile.data.train_size}" if profile.data.train_size else "",
             f"seed={profile.training.seed}" if profile.training.seed else "",
             f"split={profile.data.split}" if profile.data.split != "random" else ""]
    return " ".join(p for p in parts if p)


def plan(names: list[str], profile) -> tuple[list, list]:
    """Independent jobs (run first) and combined ones (run after them), as (name, profile),
    each list longest first."""
    independent = [(name, profile) for name in names if not _lookup(name).requires]
    combined = [(name, profile) for name in names if _lookup(name).requires]
    for name in LEARNING_CURVE_MODELS:
        independent += [(name, p) for p in learning_curve_profiles(profile)[:-1]]
    variants = seed_profiles(profile)[1:] + [grouped_split_profile(profile)]
    for variant in variants:
        models = SEED_MODELS if variant.data.split == profile.data.split else \
            GROUPED_SPLIT_MODELS
        independent += [(name, variant) for name in models if name in names]
        combined += [(name, variant) for name in COMBINED_MODELS if name in names]
    independent.sort(key=_cost, reverse=True)
    return independent, combined


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all registered)")
    parser.add_argument("--profile", default=None, help="ci, book or full (default: $HYBRIDLIB_PROFILE)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    profile = resolve_profile(args.profile)
    names = args.names or [n for n in available() if not n.startswith("_")]
    start = time.perf_counter()
    # "spawn": a forked child of a process whose OpenMP threads already ran can deadlock
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=spawn) as pool:
        for jobs in plan(names, profile):
            for name, label, seconds in pool.map(_train, jobs):
                print(f"{name:28s} {label:18s} {seconds:8.1f} s", flush=True)
    print(f"registry ready for profile {profile.name!r} in {time.perf_counter() - start:.0f} s")
