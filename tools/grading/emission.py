"""Values sent from a kernel to the grader: canonical plain data on one marked line of output.

:func:`canonical` and :func:`emit` run *inside the student's kernel*: the grader sends their
source (see :func:`kernel_prelude`). They turn an answer into JSON-ready data — ``None``,
booleans, integers, floats, strings, lists, dicts with string keys, and numeric arrays as
``{"__array__": nested list, "shape": [...]}`` — by conversions that a custom object cannot
steer into a pass (``float()``, ``int()``, ``numpy.asarray(..., dtype=float)``, the ``str``
data itself). What comes out is only a claim: :func:`decode` reads it back in the grader, where
the student's code does not run, and rejects anything that is not such data; the verdict
(:mod:`tools.grading.verdict`) is then made there.
"""
from __future__ import annotations

import inspect
import json
import math
import textwrap

import numpy as np

__all__ = ["canonical", "emit", "kernel_prelude", "decode", "EmissionError", "MAX_LINE"]

#: Longest accepted emission line (characters).
MAX_LINE = 4_000_000
_MAX_DEPTH = 32


class EmissionError(ValueError):
    """A value sent by a kernel is not canonical plain data."""


def canonical(value, depth=0):
    """Plain-data form of an answer (runs in the student's kernel; self-contained)."""
    import numbers
    from collections.abc import Mapping

    if depth > 32:
        raise TypeError("答えの入れ子が深すぎます")
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if isinstance(value, str):
        return str.__str__(value)
    if kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool"):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key in list(value.keys()):
            if isinstance(key, str):
                name = str.__str__(key)
            elif isinstance(key, numbers.Integral) and not isinstance(key, bool):
                name = str(int(key))
            else:
                raise TypeError(f"辞書のキーは文字列にしてください（{type(key).__name__} がありました）")
            out[name] = canonical(value[key], depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [canonical(item, depth + 1) for item in list(value)]
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "__array__"):
        import numpy

        array = numpy.asarray(value)
        if array.dtype.kind in "biuf":
            numbers_ = numpy.asarray(array, dtype=float)
            return {"__array__": numbers_.tolist(), "shape": [int(n) for n in numbers_.shape]}
        return canonical(array.tolist(), depth + 1)
    raise TypeError(f"答えの型 {kind.__name__} はこの確認では扱えません")


def emit(marker, check):
    """Run one check and print its canonical value after ``marker`` (runs in the kernel)."""
    import json

    text = json.dumps(canonical(check()), ensure_ascii=True, allow_nan=True)
    print(marker + text, flush=True)


def kernel_prelude(emit_name: str) -> str:
    """Source that defines :func:`emit` (with :func:`canonical`) in a kernel as ``emit_name``."""
    body = "\n".join(textwrap.indent(inspect.getsource(f), "    ") for f in (canonical, emit))
    maker = f"{emit_name}_make"
    return f"def {maker}():\n{body}\n    return emit\n\n\n{emit_name} = {maker}()\ndel {maker}\n"


def _array(payload: dict):
    if set(payload) != {"__array__", "shape"}:
        raise EmissionError("an array carries exactly '__array__' and 'shape'")
    shape = payload["shape"]
    if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
        raise EmissionError("an array shape is a list of non-negative integers")
    try:
        array = np.array(payload["__array__"], dtype=float)
    except (TypeError, ValueError):
        raise EmissionError("an array holds numbers only") from None
    if list(array.shape) != shape:
        raise EmissionError(f"array of shape {list(array.shape)} announced as {shape}")
    return array


def _plain(value, depth: int = 0):
    """Validate decoded JSON as canonical data; arrays become ``numpy`` arrays."""
    if depth > _MAX_DEPTH:
        raise EmissionError("nested too deeply")
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value) is float:
        return value
    if type(value) is list:
        return [_plain(item, depth + 1) for item in value]
    if type(value) is dict:
        if "__array__" in value:
            return _array(value)
        return {key: _plain(item, depth + 1) for key, item in value.items()}
    raise EmissionError(f"not plain data: {type(value).__name__}")


def decode(text: str):
    """The value of one emission line (the text after its marker), validated."""
    if len(text) > MAX_LINE:
        raise EmissionError(f"the value is longer than {MAX_LINE} characters")
    try:
        value = json.loads(text, parse_constant=lambda name: {"NaN": math.nan,
                                                            "Infinity": math.inf,
                                                            "-Infinity": -math.inf}[name])
    except (json.JSONDecodeError, KeyError, RecursionError) as err:
        raise EmissionError(f"not JSON ({type(err).__name__})") from None
    return _plain(value)
