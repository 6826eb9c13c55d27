"""Stubs of solution code: what a student copy keeps of a solution code cell.

A stub keeps imports, decorators, signatures and docstrings of top-level functions and classes
(methods included) with bodies that raise ``NotImplementedError``; any other top-level statement
becomes a ``# TODO`` naming the variables to define plus a cell-level ``raise
NotImplementedError``. Docstrings and signatures therefore must not give the answer away.
"""
from __future__ import annotations

import ast
import copy
import textwrap

__all__ = ["stub_code", "is_docstring"]


def _todo(label: str | None) -> str:
    return f"演習 {label}: ここを実装してください" if label else "ここを実装してください"


def is_docstring(node: ast.stmt) -> bool:
    """Whether a statement is a string literal (a docstring)."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


_Definition = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _raise(todo: str) -> ast.stmt:
    return ast.parse(f"raise NotImplementedError({todo!r})").body[0]


def _stubbed(node: ast.stmt, todo: str) -> ast.stmt:
    """AST of a definition whose function bodies raise (docstrings kept, methods stubbed)."""
    new = copy.copy(node)
    doc = node.body[:1] if is_docstring(node.body[0]) else []
    if isinstance(node, ast.ClassDef):
        methods = [_stubbed(m, todo) for m in node.body if isinstance(m, _Definition)]
        new.body = doc + methods or [ast.Pass()]
    else:
        new.body = doc + [_raise(todo)]
    return new


def _stub_definition(node: ast.stmt, lines: list[str], todo: str) -> str:
    """Source of a stubbed definition; the author's signature and docstring stay as written."""
    first = node.body[0]
    if lines[first.lineno - 1][: first.col_offset].strip():  # body shares a line with the header
        return textwrap.indent(ast.unparse(_stubbed(node, todo)), " " * node.col_offset)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    header = lines[start : first.lineno - 1]
    while header and (not header[-1].strip() or header[-1].strip().startswith("#")):
        header.pop()
    body = node.body
    if is_docstring(first):
        header += lines[first.lineno - 1 : first.end_lineno]
        body = body[1:]
    indent = " " * first.col_offset
    if isinstance(node, ast.ClassDef):
        methods = [_stub_definition(m, lines, todo) for m in body if isinstance(m, _Definition)]
        empty = "" if is_docstring(first) else f"{indent}pass"
        inner = "\n\n".join(methods) if methods else empty
    else:
        inner = f"{indent}raise NotImplementedError({todo!r})"
    return "\n".join(header + [inner] * bool(inner))


def _assigned_names(node: ast.stmt) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return [n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)]


def stub_code(source: str, label: str | None = None) -> str:
    """The student stub of a solution code cell (see the module docstring)."""
    todo = _todo(label)
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics or a sketch: nothing of it can be kept
        return f"# TODO: {todo}\nraise NotImplementedError({todo!r})"
    lines = source.split("\n")
    imports, definitions, names, loose = [], [], [], False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(source, node))
        elif isinstance(node, _Definition):
            definitions.append(_stub_definition(node, lines, todo))
        else:
            loose = True
            names += [name for name in _assigned_names(node) if name not in names]
    if loose:
        wanted = f"\n# 定義する変数: {', '.join(names)}" if names else ""
        definitions.append(f"# TODO: {todo}{wanted}\nraise NotImplementedError({todo!r})")
    return "\n\n\n".join(["\n".join(imports)] * bool(imports) + definitions)


