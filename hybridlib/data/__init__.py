"""Real data for the book: the offline Materials Project sample and Matbench tasks.

* :func:`load_mp_sample` reads ``mp_hybrid_sample.json.gz`` (MP-20 crystals with formation
  energy and band gap) from the package itself (``hybridlib/data/files``) or ``HYBRIDLIB_DATA_DIR``.
* :func:`load_matbench_fold` loads ``matbench_mp_e_form`` / ``matbench_mp_gap`` through
  ``matbench`` with the official folds, cached on disk and subsampled by profile.
* :func:`join_by_structure` joins two tasks by crystal identity, never by row position.
* :func:`split_ids` / :func:`assign_splits` give seeded splits that depend only on the ids.

Every table has the columns ``material_id, formula, structure`` plus target columns.
Introduced in: chapter 5.1.
"""
from __future__ import annotations

from .dataset import SOURCE_ENV, SOURCES, data_source, load_dataset
from .joins import join_by_structure, structure_key
from .matbench import MATBENCH_TASKS, MatbenchFold, injected_task, load_matbench_fold
from .paths import (CACHE_ENV, DATA_ENV, PACKAGED_DATA_DIR, SAMPLE_FILE, DataFormatError,
                    DataNotFoundError, EmptyDatasetError, cache_dir, data_dir, sample_path)
from .sample import TARGET_RANGES, TARGETS, clean_targets, load_mp_sample
from .splits import assign_splits, reduced_formula, split_ids, subsample
from .tables import require_columns

__all__ = [
    "DataNotFoundError", "DataFormatError", "EmptyDatasetError",
    "SAMPLE_FILE", "TARGETS", "MATBENCH_TASKS", "PACKAGED_DATA_DIR", "DATA_ENV", "CACHE_ENV",
    "data_dir", "cache_dir", "load_mp_sample", "clean_targets", "subsample",
    "split_ids", "assign_splits", "load_dataset", "structure_key",
    "join_by_structure", "MatbenchFold", "load_matbench_fold", "injected_task",
    "TARGET_RANGES", "reduced_formula", "require_columns", "SOURCE_ENV", "SOURCES",
    "data_source", "sample_path",
]
