"""Code a reader sees fits the page: no visible code line is cut at the right edge.

``LINE_LIMIT`` comes from the theme as Chromium draws it (``tools/browser_check``, 1280 px
wide window): a code cell is 666 px wide with 16 px padding on each side, and
``book/_static/book.css`` sets code in 13 px DejaVu Sans Mono (7.83 px a character), so 80
characters fit; at the theme's widest (1440 px and up) 94 do. 79 (PEP 8, STYLE.md) leaves
one column to spare. Japanese characters take two columns, as in a terminal (they are drawn
1.7 columns wide). Visible code: every code cell not tagged ``remove-cell``/``remove-input``
(``hide-*`` cells open on a click) and every fenced code block in the chapters' and front
matter's Markdown.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[2]
LINE_LIMIT = 79
HIDDEN_TAGS = {"remove-cell", "remove-input"}
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def columns(line: str) -> int:
    """Width of a line in monospace columns (wide East Asian characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def fenced_code(markdown: str) -> list[str]:
    """Lines inside fenced code blocks; MyST directives (```{name}) are not code."""
    lines, fence = [], None
    for line in markdown.splitlines():
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(2)[0] * len(match.group(2))
                is_code = not match.group(3).strip().startswith("{")
                lines.append(None if is_code else False)  # marker: inside code or not
            continue
        if match and match.group(2).startswith(fence) and not match.group(3).strip():
            fence = None
            continue
        if lines[-1] is not False:
            lines.append(line)
    return [line for line in lines if isinstance(line, str)]


def visible_code(path: Path) -> list[str]:
    """The code lines of a chapter (``.py`` percent pair) or Markdown page a reader sees."""
    if path.suffix == ".md":
        return fenced_code(path.read_text(encoding="utf-8"))
    notebook = jupytext.read(path)
    lines = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            lines += fenced_code(cell.source)
        elif cell.cell_type == "code" and not HIDDEN_TAGS & set(cell.metadata.get("tags", [])):
            lines += cell.source.splitlines()
    return lines


def too_wide(path: Path) -> list[str]:
    return [f"{path.relative_to(ROOT)}: {columns(line)} columns: {line.strip()[:60]}"
            for line in visible_code(path) if columns(line) > LINE_LIMIT]


PAGES = sorted(ROOT.glob("chapters/*.py")) + sorted(ROOT.glob("book/*.md"))


def test_width_counts_wide_characters_twice_and_finds_fenced_code():
    assert columns("ab") == 2 and columns("日本") == 4
    markdown = "text\n```python\nx = 1\n```\n```{note}\nnot code\n```\n~~~\ny\n~~~\n"
    assert fenced_code(markdown) == ["x = 1", "y"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_visible_code_lines_fit_the_page(path):
    assert too_wide(path) == []
