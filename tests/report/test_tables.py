"""Tables for readers: Japanese headers with units, no index column, readable numbers."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from hybridlib.report import tables

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture
def metrics() -> pd.DataFrame:
    return pd.DataFrame({
        "experiment": ["rf_magpie", "cgcnn", "late_fusion_val"],
        "model": ["RF (Magpie 132)", "CGCNN", "Late Fusion (α: 検証)"],
        "family": ["composition", "graph", "hybrid"],
        "mae": [0.150612, 0.2093, 0.14], "rmse": [0.1966, 0.2718, 0.19],
        "r2": [0.96071, 0.9249, 0.97], "train_time_s": [2.4914, 615.5384, 7300.0],
        "alpha": [np.nan, np.nan, 0.8], "pareto": [True, False, True],
    })


def _cells(styler) -> list[list[str]]:
    """Header row and body rows as the reader sees them (the HTML's text)."""
    html = styler.to_html()
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
            for row in rows]


def test_headers_are_japanese_with_units_and_there_is_no_index_column(metrics):
    header, *rows = _cells(tables.show(metrics, ["model", "mae", "rmse", "r2", "train_time_s"]))
    assert header == ["モデル", "MAE (eV/atom)", "RMSE (eV/atom)", "R²", "学習時間"]
    assert rows[0] == ["RF (Magpie 132)", "0.151", "0.197", "0.961", "2.5\u00a0秒"]
    assert [row[-1] for row in rows] == ["2.5\u00a0秒", "10.3\u00a0分", "2.0\u00a0時間"]
    assert _cells(tables.show(metrics, ["mae"], unit="eV"))[0] == ["MAE (eV)"]
    assert 'class="dataframe"' in tables.show(metrics).to_html()  # the theme's table look


def test_every_known_column_has_a_japanese_header():
    plain = {"model", "r2", "cos", "mae", "rmse"}  # "モデル", "R²", "cos θ", "MAE (…)"
    assert [c for c, (header, _) in tables.COLUMNS.items()
            if not JAPANESE.search(header) and c not in plain and "(" not in header] == []
    assert tables.COLUMNS["model"][0] == "モデル"


def test_missing_values_families_checks_and_signed_changes_read_well(metrics):
    header, *rows = _cells(tables.show(metrics, ["family", "alpha", "pareto"]))
    assert header == ["系統", "α（RF の重み）", "パレート最適"]
    assert rows == [["組成ベース", "—", "✓"], ["グラフNN", "—", ""], ["ハイブリッド", "0.80", "✓"]]
    change = pd.DataFrame({"model": ["MT"], "e_form_mae change %": [12.345]})
    assert _cells(tables.show(change))[1] == ["MT", "+12.3"]


def test_a_named_index_becomes_a_column_and_an_unnamed_one_disappears():
    pivot = pd.DataFrame({"train_size": [100, 1000], "rf_magpie": [0.3, 0.1],
                          "CGCNN": [0.5, 0.08]}).set_index("train_size")
    styler = tables.show(pivot)
    header, first, _ = _cells(styler)
    assert header == ["学習データ数", "RF (Magpie 132)", "CGCNN"]
    assert first == ["100", "0.300", "0.500"]
    assert "テスト MAE (eV/atom)" in styler.to_html()  # model columns: the caption says what
    by_experiment = pd.DataFrame({"model": ["A"], "mae": [0.1]}, index=["exp_a"])
    assert _cells(tables.show(by_experiment))[0] == ["モデル", "MAE (eV/atom)"]


def test_a_series_and_describe_statistics_get_japanese_headers():
    series = pd.Series({"RF のテスト MAE": 0.15}, name="mae")
    assert _cells(tables.show(series)) == [["項目", "MAE (eV/atom)"], ["RF のテスト MAE", "0.150"]]
    assert _cells(tables.show(pd.Series({"切片": -0.01})))[0] == ["項目", "値"]
    weights = pd.DataFrame({"class": ["金属", "金属", "非金属"], "w_structure": [0.1, 0.3, 0.6]})
    stats = weights.groupby("class")[["w_structure"]].agg(["count", "mean"])
    assert _cells(tables.show(stats)) == [["分類", "構造側の重み 件数", "構造側の重み 平均"],
                                          ["金属", "2", "0.200"], ["非金属", "1", "0.600"]]
    targets = pd.DataFrame({"mean": [0.5], "var": [0.25]}, index=["e_form"]).rename_axis("target")
    assert _cells(tables.show(targets))[1] == ["生成エネルギー (eV/atom)", "0.500", "0.250"]


def test_an_unknown_column_needs_a_label_and_gets_it(metrics):
    table = metrics.assign(seed=[0, 1, 2], note=["a", "b", "c"])
    with pytest.raises(ValueError, match="no Japanese header for column 'seed'"):
        tables.show(table, ["model", "seed"])
    styler = tables.show(table, ["model", "seed", "note"], labels={"seed": "乱数の種", "note": "メモ"})
    assert _cells(styler)[1] == ["RF (Magpie 132)", "0", "a"]
    with pytest.raises(ValueError, match="no columns \\['nope'\\]"):
        tables.show(metrics, ["nope"])


def test_duration_reads_like_the_table_and_answers_get_headers():
    nbsp = "\u00a0"
    assert tables.duration(27.0) == f"27.0{nbsp}秒"
    assert tables.duration(1147.357) == f"19.1{nbsp}分"
    assert tables.duration(7300) == f"2.0{nbsp}時間"
    answers = pd.DataFrame({"choice": {"A": "alignn"}, "reason": {"A": "理由"}})
    header, row = _cells(tables.show(answers.rename_axis("scenario")))
    assert header == ["シナリオ", "選んだ手法", "理由"] and row == ["A", "alignn", "理由"]
