"""Tables of measured results for the chapters, read from the run registry, and shown.

One row per experiment with the test metrics, training time and the display name and
family used in figures (``hl.plots.FAMILY_COLORS``, :mod:`.style`). :func:`show` is the one
way a chapter displays a table: Japanese headers with units, no index column, MAE to three
decimals, times in seconds or minutes. Introduced in: chapter 5.2.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import pandas as pd

from ..config import Profile

__all__ = ["MODELS", "MULTITASK_RUNS", "COLUMNS", "show", "duration", "metrics_table",
           "multitask_table", "transfer_table", "pareto_front", "total_seconds",
           # statistics section
           "SEEDS", "test_predictions", "ranked_table", "difference_table",
           "error_by_class_table", "stored_run", "seed_table",
           "unseen_formula_table", "formula_split_profile", "grouped_split_table",
           "rank_reversals",
           "SINGLE_TASK_BASELINES", "transfer_intervals", "interval_column",
           "mean_sd_column"]

#: experiment name -> (display name, family)
MODELS: dict[str, tuple[str, str]] = {
    "rf_magpie": ("RF (Magpie 132)", "composition"),
    "rf_ward": ("RF (Ward 2016, 145)", "composition"),
    "cgcnn": ("CGCNN", "graph"),
    "early_fusion": ("Early Fusion (連結)", "hybrid"),
    "attention_fusion": ("Early Fusion (Attention)", "hybrid"),
    "late_fusion_val": ("Late Fusion (α: 検証)", "hybrid"),
    "late_fusion_train": ("Late Fusion (α: 訓練, 誤)", "hybrid"),
    "stacking": ("Stacking (Ridge)", "hybrid"),
    "alignn_simple": ("ALIGNN 簡易版", "graph"),
    "alignn": ("ALIGNN", "graph"),
    "megnet_e_form": ("MEGNet (単一: e_form)", "graph"),
    "megnet_band_gap": ("MEGNet (単一: gap)", "graph"),
    "megnet_mt_equal": ("MEGNet MT (λ 等重み)", "multitask"),
    "megnet_mt_invstd": ("MEGNet MT (λ 1/σ)", "multitask"),
    "megnet_mt_seed": ("MEGNet MT (λ 1.0/0.5)", "multitask"),
    "megnet_mt_uncertainty": ("MEGNet MT (不確実性)", "multitask"),
    # ablations of chapters 5.2 and 5.5
    "early_fusion_no_comp": ("Early Fusion (組成をゼロに)", "hybrid"),
    "early_fusion_no_dropout": ("Early Fusion (ドロップアウトなし)", "hybrid"),
    "early_fusion_branch_norm": ("Early Fusion (両枝を正規化)", "hybrid"),
    "residual_fusion": ("Residual Fusion (CGCNN + 組成補正)", "hybrid"),
    "megnet_e_form_embedding": ("MEGNet (単一: e_form, 学習する埋め込み)", "graph"),
    "megnet_state_fusion": ("MEGNet (状態 = Magpie)", "hybrid"),
    # pretrained CHGNet embedding (chapter 5.9): MP sample, perovskites, MP -> perovskites
    "rf_chgnet": ("RF (CHGNet 埋め込み)", "graph"),
    "rf_magpie_chgnet": ("RF (Magpie + CHGNet)", "hybrid"),
    "mlp_magpie_chgnet": ("MLP (Magpie + CHGNet)", "hybrid"),
    "stacking_chgnet": ("Stacking (RF, CGCNN, CHGNet)", "hybrid"),
    "perov_rf_magpie": ("RF (Magpie 132)：ペロブスカイト", "composition"),
    "perov_rf_chgnet": ("RF (CHGNet 埋め込み)：ペロブスカイト", "graph"),
    "perov_rf_magpie_chgnet": ("RF (Magpie + CHGNet)：ペロブスカイト", "hybrid"),
    "perov_cgcnn": ("CGCNN：ペロブスカイト", "graph"),
    "perov_mlp_magpie_chgnet": ("MLP (Magpie + CHGNet)：ペロブスカイト", "hybrid"),
    "shift_rf_magpie": ("RF (Magpie 132)：MP→ペロブスカイト", "composition"),
    "shift_rf_magpie_chgnet": ("RF (Magpie + CHGNet)：MP→ペロブスカイト", "hybrid"),
}


def metrics_table(names: Iterable[str], target: str = "e_form",
                  profile: Profile | str | None = None) -> pd.DataFrame:
    """Test metrics of experiments (trained on demand, else read from the registry).

    Returns:
        Columns ``experiment, model, family, mae, rmse, r2, train_time_s``; experiments
        that do not predict ``target`` are left out. ``train_time_s`` is the whole cost of
        the prediction: a composite (late fusion, stacking) adds the time of the models it
        combines to its own.
    """
    from ..experiments import run

    rows = []
    for name in names:
        result = run(name, profile)
        if target not in result.metrics:
            continue
        label, family = MODELS.get(name, (name, "baseline"))
        metrics = result.metrics[target]
        rows.append({"experiment": name, "model": label, "family": family,
                     "mae": metrics["mae"], "rmse": metrics["rmse"], "r2": metrics["r2"],
                     "train_time_s": total_seconds(name, profile, result)})
    return pd.DataFrame(rows)


def total_seconds(name: str, profile: Profile | str | None = None, result=None) -> float:
    """Training time of an experiment plus that of every experiment it combines.

    ``result`` is the experiment's run when the caller already holds it (saves a reload).
    """
    from ..experiments import _lookup, run

    result = result or run(name, profile)
    return result.train_seconds + sum(
        total_seconds(required, profile) for required in _lookup(name).requires)


#: The MEGNet runs of chapter 5.5: single-task baselines first, then the task weightings.
MULTITASK_RUNS = ("megnet_e_form", "megnet_band_gap", "megnet_mt_equal", "megnet_mt_invstd",
                  "megnet_mt_seed", "megnet_mt_uncertainty")


def multitask_table(profile: Profile | str | None = None,
                    names: Iterable[str] = MULTITASK_RUNS) -> pd.DataFrame:
    """Test errors of the MEGNet runs: e_form MAE, band-gap MAE overall / metals / non-metals.

    Returns:
        One row per run (index: experiment) with ``model, weights, e_form_mae, band_gap_mae,
        gap_mae_metal, gap_mae_nonmetal, train_time_s``; NaN where a run lacks a target.
    """
    from ..experiments import run

    rows = {}
    for name in names:
        result = run(name, profile)
        by_class = result.extra.get("band_gap_by_class", {})
        weights = result.extra.get("weights")
        rows[name] = {
            "model": MODELS.get(name, (name, ""))[0],
            "weights": None if weights is None else
            " / ".join(f"{w:.3g}" for w in weights.values()),
            "e_form_mae": result.metrics.get("e_form", {}).get("mae", float("nan")),
            "band_gap_mae": result.metrics.get("band_gap", {}).get("mae", float("nan")),
            "gap_mae_metal": by_class.get("metal", {}).get("mae", float("nan")),
            "gap_mae_nonmetal": by_class.get("nonmetal", {}).get("mae", float("nan")),
            "train_time_s": result.train_seconds,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def transfer_table(table: pd.DataFrame) -> pd.DataFrame:
    """Relative change of each multitask run's MAE against its single-task baseline.

    Positive = the multitask model is worse (negative transfer) for that target.
    """
    base = {"e_form_mae": table.loc["megnet_e_form", "e_form_mae"],
            "band_gap_mae": table.loc["megnet_band_gap", "band_gap_mae"]}
    multi = table.drop(index=["megnet_e_form", "megnet_band_gap"])
    out = pd.DataFrame({f"{k} change %": 100 * (multi[k] / v - 1) for k, v in base.items()})
    out.insert(0, "model", multi["model"])
    return out


def pareto_front(table: pd.DataFrame, error: str = "mae", cost: str = "train_time_s") -> pd.Series:
    """True for rows that no other row beats on both ``error`` and ``cost`` (lower is better)."""
    values = table[[error, cost]].to_numpy(float)
    dominated = [bool(((values <= row).all(axis=1) & (values < row).any(axis=1)).any())
                 for row in values]
    return pd.Series([not d for d in dominated], index=table.index, name="pareto")


# --------------------------------------------------------------------------- display

#: column -> (Japanese header, how its values are written); ``{unit}`` is the target's unit
COLUMNS: dict[str, tuple[str, str]] = {
    "model": ("モデル", "text"), "experiment": ("実験名", "text"), "family": ("系統", "family"),
    "mae": ("MAE ({unit})", "error"), "rmse": ("RMSE ({unit})", "error"), "r2": ("R²", "error"),
    "train_time_s": ("学習時間", "time"), "train_seconds": ("学習時間", "time"),
    "train_size": ("学習データ数", "count"), "n": ("物質数", "count"),
    "alpha": ("α（RF の重み）", "fixed2"), "pareto": ("パレート最適", "check"),
    "mae_rank": ("MAE の順位", "count"), "time_rank": ("学習時間の順位", "count"),
    "best_epoch": ("検証 MAE 最小のエポック", "count"), "epochs_run": ("学習したエポック数", "count"),
    "steps_run": ("最適化のステップ数", "count"),
    "e_form_mae": ("生成エネルギー MAE (eV/atom)", "error"),
    "band_gap_mae": ("バンドギャップ MAE (eV)", "error"),
    "gap_mae_metal": ("ギャップ MAE：金属 (eV)", "error"),
    "gap_mae_nonmetal": ("ギャップ MAE：非金属 (eV)", "error"),
    "e_form_mae change %": ("生成エネルギー MAE の変化 (%)", "percent"),
    "band_gap_mae change %": ("バンドギャップ MAE の変化 (%)", "percent"),
    "vs CGCNN %": ("CGCNN に対する MAE の変化 (%)", "percent"),
    "weights": ("タスクの重み (e_form / gap)", "text"),
    "e_form": ("生成エネルギー (eV/atom)", "fixed3"), "band_gap": ("バンドギャップ (eV)", "fixed3"),
    "w_composition": ("組成側の重み", "fixed3"), "w_structure": ("構造側の重み", "fixed3"),
    "class": ("分類", "text"), "target": ("目的変数", "target"), "value": ("値", "fixed3"),
    "item": ("項目", "text"),
    "j": ("原子 j", "text"), "i": ("原子 i（共有）", "text"), "k": ("原子 k", "text"),
    "d_ij": ("距離 d_ij (Å)", "fixed3"), "d_ik": ("距離 d_ik (Å)", "fixed3"),
    "cos": ("cos θ", "fixed3"), "angle_deg": ("角度 θ (°)", "fixed1"),
    # statistics of DataFrame.describe() / .agg()
    "count": ("件数", "count"), "mean": ("平均", "fixed3"), "std": ("標準偏差", "fixed3"),
    "var": ("分散", "fixed3"), "min": ("最小", "fixed3"), "25%": ("第1四分位", "fixed3"),
    "50%": ("中央値", "fixed3"), "75%": ("第3四分位", "fixed3"), "max": ("最大", "fixed3"),
    # comparisons with intervals (statistics section below)
    "label": ("順位", "text"), "verdict": ("判定", "verdict"),
    "mae (95 %)": ("MAE [95 % 区間] ({unit})", "text"),
    "diff (95 %)": ("差 [95 % 区間] ({unit})", "text"),
    "Δ best (95 %)": ("最良との差 [95 % 区間] ({unit})", "text"),
    "seeds": ("種を変えた MAE 平均 ± 標準偏差 ({unit})", "text"),
    "mae unseen": ("未知の組成式での MAE ({unit})", "error"),
    "mae unseen (95 %)": ("未知の組成式での MAE [95 % 区間] ({unit})", "text"),
    "mae_seen": ("既知の組成式での MAE ({unit})", "error"),
    "mae_random (95 %)": ("ランダム分割の MAE [95 % 区間] ({unit})", "text"),
    "mae_formula (95 %)": ("組成式分割の MAE [95 % 区間] ({unit})", "text"),
    "change_pct": ("MAE の変化 (%)", "percent"),
    "label_random": ("順位（ランダム分割）", "text"),
    "label_formula": ("順位（組成式分割）", "text"),
    "scenario": ("シナリオ", "text"), "choice": ("選んだ手法", "text"),
    "reason": ("理由", "text"),
}
#: how a comparison's verdict reads in a table
VERDICTS = {"better": "良い", "worse": "悪い", "tie": "区別できない"}
_TARGETS = {"e_form": "生成エネルギー (eV/atom)", "band_gap": "バンドギャップ (eV)"}
_DIGITS = {"error": 3, "fixed1": 1, "fixed2": 2, "fixed3": 3}


def _writer(kind: str):
    """Function that writes one value of a column of ``kind`` (NaN and None as a dash)."""
    from .style import FAMILY_COLORS

    def missing(value) -> bool:
        return value is None or isinstance(value, float) and math.isnan(value)

    if kind in _DIGITS:
        digits = _DIGITS[kind]
        return lambda v: "—" if missing(v) else f"{v:.{digits}f}"
    return {
        "count": lambda v: "—" if missing(v) else f"{int(v):,}",
        "percent": lambda v: "—" if missing(v) else f"{v:+.1f}",
        "check": lambda v: "✓" if bool(v) and not missing(v) else "",
        "family": lambda v: FAMILY_COLORS[v][0] if v in FAMILY_COLORS else str(v),
        "target": lambda v: _TARGETS.get(v, str(v)),
        "text": lambda v: "—" if missing(v) else str(v),
        "verdict": lambda v: "—" if missing(v) else VERDICTS.get(v, str(v)),
        "time": lambda v: "—" if missing(v) else duration(v),
    }[kind]


def duration(seconds: float) -> str:
    """A time as the tables write it: ``2.5 秒``, ``10.3 分``, ``1.2 時間`` (a no-break space
    keeps number and unit together; also for sentences)."""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}\u00a0秒"
    if seconds < 3600:
        return f"{seconds / 60:.1f}\u00a0分"
    return f"{seconds / 3600:.1f}\u00a0時間"


def _describe(column, unit: str, labels: Mapping[str, str]) -> tuple[str, str]:
    """(header, kind) of one column; a column named by a model holds that model's MAE."""
    if isinstance(column, tuple):  # MultiIndex columns, e.g. from .describe(): join the levels
        parts = [_describe(level, unit, labels) for level in column if level != ""]
        return " ".join(header for header, _ in parts), parts[-1][1]
    if column in labels:
        return labels[column], "auto"
    if column in COLUMNS:
        header, kind = COLUMNS[column]
        return header.format(unit=unit), kind
    display = MODELS.get(column, (None,))[0] or next(
        (label for label, _ in MODELS.values() if label == column), None)
    if display is not None:
        return display, "error"
    raise ValueError(f"no Japanese header for column {column!r}: add it to "
                     f"hl.tables.COLUMNS or pass labels={{{column!r}: '…'}}")


def show(table: pd.DataFrame | pd.Series, columns: Sequence | None = None, *,
         unit: str = "eV/atom", labels: Mapping[str, str] | None = None):
    """A table as the book shows it: Japanese headers with units, no index column.

    Args:
        table: a DataFrame, or a Series (its index becomes the first column, "項目" unless
            named, its values a column named by the Series' name, "値" by default). A named index becomes the first column; an
            unnamed one (row numbers, experiment names) is not shown.
        columns: the columns to show, in this order (default: all).
        unit: unit of ``mae``/``rmse`` (the target's: ``"eV/atom"`` or ``"eV"``).
        labels: Japanese headers for columns :data:`COLUMNS` does not know (floats are
            written with three decimals, integers as counts).

    Values: errors (MAE, RMSE, R²) with three decimals, training times in seconds under a
    minute and in minutes (hours) above; a column named by a model (an experiment or its
    display name) holds that model's MAE. NaN is written as a dash.

    Returns:
        A pandas ``Styler`` (Jupyter and the book show it as an HTML table).

    Raises:
        ValueError: a column has no Japanese header, or ``columns`` names a missing column.
    """
    labels = dict(labels or {})
    if isinstance(table, pd.Series):  # its index holds the row labels: keep it
        table = table.rename_axis(table.index.name or "item").to_frame(
            table.name if table.name is not None else "value")
    if not isinstance(table.index, pd.RangeIndex):
        named = all(name is not None for name in table.index.names)
        table = table.reset_index(drop=not named)
    if columns is not None:
        absent = [c for c in columns if c not in table.columns]
        if absent:
            raise ValueError(f"table has no columns {absent}; it has {list(table.columns)}")
        table = table[list(columns)]
    headers, formats = {}, {}
    for column in table.columns:
        header, kind = _describe(column, unit, labels)
        if kind == "auto":  # a column the caller labelled: written by its type
            dtype = table[column].dtype
            kind = ("count" if pd.api.types.is_integer_dtype(dtype) else
                    "fixed3" if pd.api.types.is_float_dtype(dtype) else "text")
        formats[header] = _writer(kind)
        headers[column] = header
    shown = table.copy()
    shown.columns = [headers[c] for c in table.columns]
    if shown.columns.duplicated().any():
        raise ValueError(f"two columns would get the same header: {list(shown.columns)}")
    models = [c for c in table.columns if _describe(c, unit, labels)[1] == "error"
              and c not in COLUMNS and c not in labels]
    # class "dataframe": the book theme draws it like a pandas table (borders, stripes)
    styler = shown.style.format(formats).hide(axis="index").set_table_attributes(
        'class="dataframe"')
    if models:
        styler = styler.set_caption(f"モデルの列の値：テスト MAE ({unit})")
    return styler


# =============================================================================================
# Intervals, ranks with ties, seeds and unseen formulas (from the stored predictions only;
# the statistics live in :mod:`hybridlib.report.stats` and :mod:`hybridlib.report.claims`).
# Introduced in: chapter 5.3 (intervals) and 5.6 (ranks, seeds, unseen formulas, split).
# =============================================================================================

#: Model seeds (``profile.training.seed``) of the repeated trainings; 0 is the ordinary
#: run. The data seed (``profile.seed``, which draws the split) stays the profile's own.
SEEDS = (0, 1, 2)


def test_predictions(names: Iterable[str], target: str = "e_form",
                     profile: Profile | str | None = None) -> pd.DataFrame:
    """Test predictions of ``target`` by each experiment, one row per material.

    Returns:
        Index ``material_id``; column ``y`` and one column per experiment
        (:func:`hybridlib.report.stats.aligned_predictions`).
    """
    from ..experiments import run
    from .stats import aligned_predictions

    return aligned_predictions({name: run(name, profile) for name in names}, target)


def ranked_table(names: Iterable[str], target: str = "e_form",
                 profile: Profile | str | None = None, *,
                 unranked: Iterable[str] = ()) -> pd.DataFrame:
    """:func:`metrics_table` with MAE intervals and ranks that mark ties.

    Args:
        unranked: experiments shown for comparison but left out of the ranking (e.g. the
            leaky ``late_fusion_train``); their rank is NaN and their label ``"—"``.

    Returns:
        :func:`metrics_table` columns plus ``mae_low, mae_high`` (bootstrap 95 % interval of
        the MAE), ``rank, tied, label`` and ``diff_best, diff_best_low, diff_best_high``
        (MAE minus that of the best ranked run, paired interval) from
        :func:`hybridlib.report.claims.rank_with_ties`; sorted by rank, then MAE.
    """
    from .claims import rank_with_ties
    from .stats import mae_interval

    names = list(names)
    table = metrics_table(names, target, profile).set_index("experiment")
    predictions = test_predictions(table.index, target, profile)
    intervals = {n: mae_interval(predictions["y"], predictions[n]) for n in table.index}
    table["mae_low"] = [intervals[n].low for n in table.index]
    table["mae_high"] = [intervals[n].high for n in table.index]
    ranked = [n for n in table.index if n not in set(unranked)]
    ranks = rank_with_ties(predictions[["y", *ranked]]).drop(columns="mae")
    table = table.join(ranks)
    table["label"] = table["label"].fillna("—")
    table["tied"] = table["tied"].eq(True)
    return table.sort_values(["rank", "mae"], na_position="last").reset_index()


def difference_table(names: Iterable[str], reference: str, target: str = "e_form",
                     profile: Profile | str | None = None) -> pd.DataFrame:
    """:func:`metrics_table` with each run's MAE interval and its difference to ``reference``.

    Returns:
        :func:`metrics_table` columns plus ``mae_low, mae_high`` and ``diff, diff_low,
        diff_high, verdict`` (MAE minus that of ``reference`` with the paired bootstrap
        interval; ``verdict`` ``"better"``, ``"worse"`` or ``"tie"``; the reference row
        has zeros and ``"—"``).
    """
    from .claims import compare
    from .stats import mae_interval

    names = list(dict.fromkeys([*names, reference]))
    table = metrics_table(names, target, profile)
    predictions = test_predictions(table["experiment"], target, profile)
    rows = []
    for name in table["experiment"]:
        interval = mae_interval(predictions["y"], predictions[name])
        diff = compare(predictions, name, reference)
        rows.append({"mae_low": interval.low, "mae_high": interval.high,
                     "diff": diff.difference.estimate, "diff_low": diff.difference.low,
                     "diff_high": diff.difference.high,
                     "verdict": "—" if name == reference else diff.verdict})
    return pd.concat([table, pd.DataFrame(rows, index=table.index)], axis=1)


def error_by_class_table(names: Iterable[str], classes: pd.Series, target: str = "e_form",
                         profile: Profile | str | None = None) -> pd.DataFrame:
    """Test MAE of each run within each class of materials, with bootstrap intervals.

    Args:
        classes: class label per ``material_id`` (index), e.g. metal / non-metal.

    Returns:
        One row per (class, experiment): ``class, experiment, model, n, mae, mae_low,
        mae_high``.

    Raises:
        ValueError: a test material has no class label.
    """
    from .stats import mae_interval

    predictions = test_predictions(names, target, profile)
    missing = predictions.index.difference(classes.index)
    if len(missing):
        raise ValueError(f"{len(missing)} test materials have no class label, "
                         f"e.g. {list(missing[:3])}")
    labels = classes.loc[predictions.index].to_numpy()
    rows = []
    for label in pd.unique(labels):
        part = predictions[labels == label]
        for name in predictions.columns.drop("y"):
            interval = mae_interval(part["y"], part[name])
            rows.append({"class": label, "experiment": name,
                         "model": MODELS.get(name, (name, ""))[0], "n": interval.n,
                         "mae": interval.estimate, "mae_low": interval.low,
                         "mae_high": interval.high})
    return pd.DataFrame(rows)


def stored_run(name: str, profile: Profile | str | None = None):
    """The stored run of ``name`` under ``profile``, or ``None``; never trains."""
    from ..experiments import experiment_key
    from ..results import Registry

    try:
        return Registry().load(name, experiment_key(name, profile))
    except FileNotFoundError:
        return None


def seed_table(names: Iterable[str], target: str = "e_form",
               profile: Profile | str | None = None,
               seeds: Iterable[int] = SEEDS) -> pd.DataFrame:
    """Test MAE over the stored repeated trainings of each run with other model seeds.

    The runs are those of :func:`hybridlib.experiments.seed_profiles` (the profile with
    ``training.seed = k`` for each ``k`` of ``seeds``), which the warm-up stores for the
    headline models: same data, same split and same test materials, only the model's
    seed (initial weights, mini-batch order, the forest's bootstrap) changes. Runs that
    are not stored are skipped (nothing is trained here), so on a profile without seed
    runs ``n_seeds`` is 1 and ``mae_sd`` NaN.

    Returns:
        Index: experiment; ``n_seeds, mae_mean, mae_sd, seeds`` (the model seeds found)
        and ``same_test_rows`` (whether all those runs were tested on the same
        materials; true for seed runs, which share the data seed).
    """
    from ..config import resolve_profile
    from ..experiments import seed_profiles
    from .stats import seed_summary

    profile = resolve_profile(profile)
    variants = seed_profiles(profile, seeds)
    rows = {}
    for name in names:
        found = {p.training.seed: stored_run(name, p) for p in variants}
        found = {k: r for k, r in found.items() if r is not None and target in r.metrics}
        if not found:
            continue
        summary = seed_summary(r.metrics[target]["mae"] for r in found.values())
        tests = {frozenset(r.predictions.loc[r.predictions["split"] == "test", "material_id"])
                 for r in found.values()}
        rows[name] = {"n_seeds": summary["n"], "mae_mean": summary["mean"],
                      "mae_sd": summary["sd"], "seeds": tuple(sorted(found)),
                      "same_test_rows": len(tests) == 1}
    return pd.DataFrame.from_dict(rows, orient="index")


def unseen_formula_table(names: Iterable[str], target: str = "e_form",
                         profile: Profile | str | None = None,
                         dataset: pd.DataFrame | None = None) -> pd.DataFrame:
    """Test MAE on the materials whose reduced formula has no training material, and on the rest.

    Args:
        dataset: the profile's table (``hl.data.load_dataset(profile)``), if already loaded.

    Returns:
        Index: experiment; ``mae`` (all test rows), ``mae_unseen, mae_unseen_low,
        mae_unseen_high`` (with the bootstrap interval), ``mae_seen, n_unseen, n_seen``.
    """
    from ..data import load_dataset
    from .stats import mae_interval, unseen_formula_ids

    dataset = load_dataset(profile) if dataset is None else dataset
    predictions = test_predictions(names, target, profile)
    unseen = predictions.index.isin(unseen_formula_ids(dataset))
    rows = {}
    for name in predictions.columns.drop("y"):
        part = mae_interval(predictions.loc[unseen, "y"], predictions.loc[unseen, name])
        seen = (predictions.loc[~unseen, name] - predictions.loc[~unseen, "y"]).abs().mean()
        rows[name] = {"mae": (predictions[name] - predictions["y"]).abs().mean(),
                      "mae_unseen": part.estimate, "mae_unseen_low": part.low,
                      "mae_unseen_high": part.high, "mae_seen": seen,
                      "n_unseen": int(unseen.sum()), "n_seen": int((~unseen).sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def formula_split_profile(profile: Profile | str | None = None,
                          dataset: pd.DataFrame | None = None) -> Profile | None:
    """The profile with the formula-grouped split, or ``None`` if the data ignore it.

    The split counts as implemented when no test material of that profile's table shares
    its reduced formula with a training material.

    Args:
        dataset: the profile's own table, if already loaded: it is split again with
            :func:`hybridlib.data.assign_splits` instead of loading the data a second time.
    """
    from .. import data
    from ..config import resolve_profile
    from .stats import unseen_formula_ids

    grouped = resolve_profile(profile).with_(data={"split": "formula"})
    table = (data.load_dataset(grouped) if dataset is None else
             data.assign_splits(dataset.drop(columns="split"), grouped))
    n_test = int((table["split"] == "test").sum())
    return grouped if n_test and len(unseen_formula_ids(table)) == n_test else None


def grouped_split_table(names: Iterable[str], target: str = "e_form",
                        profile: Profile | str | None = None,
                        dataset: pd.DataFrame | None = None) -> pd.DataFrame:
    """Test MAE with the random split and with the formula-grouped split, side by side.

    Reads stored runs only: experiments without a stored formula-split run are left out,
    and the table is empty when the data ignore ``split="formula"``
    (:func:`formula_split_profile`, which receives ``dataset``).

    Returns:
        Index: experiment; ``model``, ``mae_random`` and ``mae_formula`` (each with
        ``_low``/``_high`` bootstrap bounds), ``change_pct`` (formula vs random, %),
        ``n_test_formula``, ``rank_random``, ``rank_formula`` and their labels
        ``label_random``, ``label_formula`` (ranks with ties among the experiments of the
        table, :func:`hybridlib.report.claims.rank_with_ties`).
    """
    from ..experiments import run
    from .claims import rank_with_ties
    from .stats import aligned_predictions, mae_interval

    grouped = formula_split_profile(profile, dataset)
    runs: dict[str, tuple] = {}
    for name in names if grouped is not None else ():
        other = stored_run(name, grouped)
        if other is not None and target in other.metrics:
            runs[name] = (run(name, profile), other)
    rows = {}
    for name, (ordinary, other) in runs.items():
        a, b = (mae_interval(*r.arrays(target, "test")) for r in (ordinary, other))
        rows[name] = {"model": MODELS.get(name, (name, ""))[0], "mae_random": a.estimate,
                      "mae_random_low": a.low, "mae_random_high": a.high,
                      "mae_formula": b.estimate, "mae_formula_low": b.low,
                      "mae_formula_high": b.high,
                      "change_pct": 100 * (b.estimate / a.estimate - 1), "n_test_formula": b.n}
    table = pd.DataFrame.from_dict(rows, orient="index")
    for split, which in (("random", 0), ("formula", 1)):
        if runs:
            chosen = {name: pair[which] for name, pair in runs.items()}
            ranks = rank_with_ties(aligned_predictions(chosen, target))
            table[f"rank_{split}"] = ranks["rank"]
            table[f"label_{split}"] = ranks["label"]
    return table


def rank_reversals(first: pd.Series, second: pd.Series) -> list[tuple[str, str]]:
    """Pairs whose strict order flips between two rankings (a tie that opens or closes is
    no reversal).

    Args:
        first, second: rank per run (same index), e.g. ``rank_random`` and
            ``rank_formula`` of :func:`grouped_split_table`.

    Returns:
        ``(a, b)`` for each pair ranked ``a`` ahead of ``b`` in ``first`` and ``b`` ahead
        of ``a`` in ``second``, in the order of ``first``'s index.
    """
    names = list(first.index)
    return [(a, b) for a in names for b in names
            if first[a] < first[b] and second[a] > second[b]]


#: target -> the single-task MEGNet run that multitask runs are compared with.
SINGLE_TASK_BASELINES = {"e_form": "megnet_e_form", "band_gap": "megnet_band_gap"}


def transfer_intervals(profile: Profile | str | None = None,
                       names: Iterable[str] = MULTITASK_RUNS[2:],
                       baselines: dict[str, str] = SINGLE_TASK_BASELINES) -> pd.DataFrame:
    """Each multitask run against its single-task baseline, per target, with paired intervals.

    Args:
        baselines: target -> single-task experiment.

    Returns:
        One row per (run, target): ``experiment, model, target, single_mae, multi_mae,
        diff, diff_low, diff_high`` (multi minus single) and ``verdict``: ``"better"``,
        ``"worse"`` (negative transfer beyond doubt) or ``"tie"``.
    """
    from .claims import compare

    names, rows = list(names), []
    for target, single in baselines.items():
        predictions = test_predictions([single, *names], target, profile)
        for name in names:
            result = compare(predictions, name, single)
            d = result.difference
            rows.append({"experiment": name, "model": MODELS.get(name, (name, ""))[0],
                         "target": target, "single_mae": (predictions[single]
                                                          - predictions["y"]).abs().mean(),
                         "multi_mae": (predictions[name] - predictions["y"]).abs().mean(),
                         "diff": d.estimate, "diff_low": d.low, "diff_high": d.high,
                         "verdict": result.verdict})
    return pd.DataFrame(rows)


def interval_column(table: pd.DataFrame, estimate: str, digits: int = 4,
                    signed: bool = False) -> pd.Series:
    """``"0.1506 [0.1331, 0.1681]"`` strings from the columns ``estimate``, ``<estimate>_low``
    and ``<estimate>_high`` (``signed``: with a sign, for differences); empty where the
    estimate is NaN, ``"—"`` where only the interval is (a reference compared with itself)."""
    f = f"{'+' if signed else ''}.{digits}f"

    def cell(e: float, lo: float, hi: float) -> str:
        if pd.isna(e):
            return ""
        return "—" if pd.isna(lo) and pd.isna(hi) else f"{e:{f}} [{lo:{f}}, {hi:{f}}]"

    return pd.Series([cell(*row) for row in zip(table[estimate], table[f"{estimate}_low"],
                                                 table[f"{estimate}_high"])],
                     index=table.index, name=f"{estimate} (95 %)")


def mean_sd_column(seeds: pd.DataFrame, index: Iterable[str], digits: int = 4) -> pd.Series:
    """``"0.1506 ± 0.0031 (3 回)"`` per experiment of ``index`` from :func:`seed_table`;
    ``"1 回のみ"`` where fewer than two seeds are stored."""
    def cell(name: str) -> str:
        if name not in seeds.index or seeds.loc[name, "n_seeds"] < 2:
            return "1 回のみ"
        row = seeds.loc[name]
        return f"{row['mae_mean']:.{digits}f} ± {row['mae_sd']:.{digits}f} ({int(row['n_seeds'])} 回)"

    index = list(index)
    return pd.Series([cell(n) for n in index], index=index, name="seeds mean ± sd")
