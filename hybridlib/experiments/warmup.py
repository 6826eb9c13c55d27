"""Fill the run registry before a book build: ``python -m hybridlib.experiments --jobs 2``.

(The command runs :func:`main` of this module; the workers import it by name, as the
``spawn`` start method requires.)

Trains every experiment the chapters read (and the learning-curve points of chapter 5.1)
that the registry does not hold yet, in ``--jobs`` worker processes with one torch thread
each (on small graphs two single-threaded trainings finish sooner than one with two threads).
Experiments that combine others (late fusion, stacking) run afterwards in this process.
The chapters then read every result from the registry, so a book build executes no training.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

from . import _lookup, available, learning_curve_profiles, run
from ..config import resolve_profile

#: Experiments whose learning curves chapter 5.1 draws.
LEARNING_CURVE_MODELS = ("rf_magpie", "cgcnn")


def _train(job: tuple[str, object]) -> tuple[str, float]:
    import torch

    torch.set_num_threads(1)
    name, profile = job
    start = time.perf_counter()
    run(name, profile)
    return name, time.perf_counter() - start


def plan(names: list[str], profile) -> tuple[list, list]:
    """Independent jobs (parallel) and composite experiments (afterwards), as (name, profile)."""
    independent, composite = [], []
    for name in names:
        (composite if _lookup(name).requires else independent).append((name, profile))
    subsets = learning_curve_profiles(profile)[:-1]  # the last point is the ordinary run
    for name in LEARNING_CURVE_MODELS:
        independent += [(name, p) for p in subsets]
    # longest first: graph models before the quick forests
    independent.sort(key=lambda job: job[0].startswith("rf_"))
    return independent, composite


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all registered)")
    parser.add_argument("--profile", default=None, help="ci, book or full (default: $HYBRIDLIB_PROFILE)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    profile = resolve_profile(args.profile)
    names = args.names or [n for n in available() if not n.startswith("_")]
    independent, composite = plan(names, profile)
    start = time.perf_counter()
    # "spawn": a forked child of a process whose OpenMP threads already ran can deadlock
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=spawn) as pool:
        for name, seconds in pool.map(_train, independent):
            print(f"{name:24s} {seconds:8.1f} s", flush=True)
    for job in composite:
        name, seconds = _train(job)
        print(f"{name:24s} {seconds:8.1f} s", flush=True)
    print(f"registry ready for profile {profile.name!r} in {time.perf_counter() - start:.0f} s")
