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

__all__ = ["MODELS", "MULTITASK_RUNS", "COLUMNS", "show", "metrics_table", "multitask_table",
           "transfer_table", "pareto_front", "total_seconds"]

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
    "megnet_mt_invvar": ("MEGNet MT (λ 1/分散)", "multitask"),
    "megnet_mt_seed": ("MEGNet MT (λ 1.0/0.5)", "multitask"),
    "megnet_mt_uncertainty": ("MEGNet MT (不確実性)", "multitask"),
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
MULTITASK_RUNS = ("megnet_e_form", "megnet_band_gap", "megnet_mt_equal", "megnet_mt_invvar",
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
    "e_form_mae": ("生成エネルギー MAE (eV/atom)", "error"),
    "band_gap_mae": ("バンドギャップ MAE (eV)", "error"),
    "gap_mae_metal": ("ギャップ MAE：金属 (eV)", "error"),
    "gap_mae_nonmetal": ("ギャップ MAE：非金属 (eV)", "error"),
    "e_form_mae change %": ("生成エネルギー MAE の変化 (%)", "percent"),
    "band_gap_mae change %": ("バンドギャップ MAE の変化 (%)", "percent"),
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
}
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
        "time": lambda v: "—" if missing(v) else _duration(float(v)),
    }[kind]


def _duration(seconds: float) -> str:
    """``2.5 秒``, ``10.3 分``, ``1.2 時間`` (a no-break space keeps number and unit together)."""
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
