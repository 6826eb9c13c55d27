"""Verdicts, made in the grader on plain data: the student's value against the reference's.

Nothing here runs student code: both values come from :func:`tools.grading.emission.decode`.
Failure reasons are Japanese sentences for the feedback; they name where and how two values
differ (type, shape, keys, length) but never print the expected value itself.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .checks import Check

__all__ = ["same", "difference", "judge"]


def _numeric(value: Any) -> np.ndarray | None:
    """A float array for numbers, numeric arrays and (nested) lists of numbers, else None."""
    if isinstance(value, np.ndarray):
        return value
    if type(value) in (int, float):
        return np.asarray(float(value))
    if isinstance(value, list) and value:
        def numbers_only(item: Any) -> bool:
            if isinstance(item, list):
                return all(numbers_only(i) for i in item)
            return type(item) in (int, float)
        if numbers_only(value):
            try:
                return np.array(value, dtype=float)
            except ValueError:  # ragged lists
                return None
    return None


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray) or type(value) in (int, float):
        return "数値"
    return {bool: "真偽値", str: "文字列", list: "リスト", dict: "辞書",
            type(None): "None"}.get(type(value), type(value).__name__)


def difference(got: Any, expected: Any, atol: float, rtol: float, where: str = "答え") -> str | None:
    """``None`` if ``got`` equals ``expected`` (numbers within tolerance), else why not."""
    a, b = _numeric(got), _numeric(expected)
    if a is not None and b is not None:
        if a.shape != b.shape:
            return (f"{where} の形が違います（{tuple(a.shape)} が返りましたが、"
                    f"{tuple(b.shape)} のはずです）")
        if not np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True):
            return f"{where} の値が正解と違います"
        return None
    if type(got) is not type(expected) or (a is None) != (b is None):
        return f"{where} の型が違います（{_kind(got)} ではなく {_kind(expected)} のはずです）"
    if isinstance(expected, dict):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        if missing or extra:
            return (f"{where} のキーが違います（足りないキー: {missing or 'なし'}、"
                    f"余分なキー: {extra or 'なし'}）")
        for key in expected:
            reason = difference(got[key], expected[key], atol, rtol, f"{where}[{key!r}]")
            if reason:
                return reason
        return None
    if isinstance(expected, list):
        if len(got) != len(expected):
            return f"{where} の長さが違います（{len(got)} 個ではなく {len(expected)} 個のはずです）"
        for i, (g, e) in enumerate(zip(got, expected)):
            reason = difference(g, e, atol, rtol, f"{where}[{i}]")
            if reason:
                return reason
        return None
    return None if got == expected else f"{where} が正解と違います"


def same(got: Any, expected: Any, atol: float = 1e-9, rtol: float = 1e-7) -> bool:
    """Whether two plain values are equal (numbers within tolerance)."""
    return difference(got, expected, atol, rtol) is None


def judge(check: Check, got: Any, expected: Any) -> str | None:
    """``None`` if the student's value passes ``check``, else the Japanese reason."""
    if check.verdict is None:
        return difference(got, expected, check.atol, check.rtol)
    namespace = {
        "got": got, "expected": expected, "np": np,
        "same": lambda a, b, atol=check.atol, rtol=check.rtol: same(a, b, atol, rtol),
    }
    try:
        exec(compile(check.verdict, f"{check.origin} (verdict)", "exec"), namespace)
    except AssertionError as err:
        return str(err) or "確認の条件を満たしていません"
    except Exception as err:  # the value lacks a key, has the wrong type, ...
        return f"答えの形式が違います（{type(err).__name__}: {err}）"
    return None
