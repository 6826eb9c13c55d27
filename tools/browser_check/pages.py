"""Checks of a built page that need its HTML only (no browser).

Error output left in a page (stderr boxes, tracebacks, docutils messages, unresolved
references), ``<img>`` files that do not exist, scripts/styles/fonts/images referenced from
another host, internal links to a missing page or anchor, widgets without a static figure,
and MyST markup that was not parsed (a directive's opening fence shown as text).
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["Problem", "find_pages", "PageIndex", "html_problems"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: (CSS classes that must all be on one element, what it means)
ERROR_CLASSES = (
    ({"output", "stderr"}, "stderr output in a cell"),
    ({"output", "traceback"}, "error traceback in a cell"),
    ({"output", "error"}, "error output in a cell"),
    ({"system-message"}, "docutils error message"),
    ({"problematic"}, "unresolved reference or markup"),
)
TRACEBACK_TEXT = "Traceback (most recent call last)"
#: tag -> attributes that make the browser fetch something when the page loads
RESOURCE_ATTRIBUTES = {"script": ("src",), "img": ("src",), "iframe": ("src",),
                       "source": ("src",), "video": ("src", "poster"), "audio": ("src",),
                       "link": ("href",)}
#: <link rel=...> values that load a resource (a rel="canonical" link is only a name)
LOADING_RELS = {"stylesheet", "preload", "icon", "shortcut", "modulepreload", "prefetch",
                "manifest", "apple-touch-icon"}
#: A MyST directive's opening fence (```{name}, :::{name}) in the page's prose: the
#: directive was not parsed (e.g. a backtick fence whose title holds backticks).
RAW_DIRECTIVE = re.compile(r"(?:`{3,}|:{3,})\{[A-Za-z][\w:-]*\}")
#: elements whose text is code or not shown, where a fence is legitimate
_NOT_PROSE = {"pre", "code", "script", "style", "kbd", "samp", "textarea"}
_REDIRECT = re.compile(
    r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["']\d+;\s*url=([^"']+)""", re.I)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one page (``fatal=False``: a note that does not fail the check)."""

    page: str
    kind: str
    detail: str = ""
    fatal: bool = True

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.page}: {self.kind}{detail}"


def find_pages(root: Path) -> list[Path]:
    """Every built HTML page under ``root``, skipping Sphinx's ``_static``/``_sources`` folders."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no built book at {root} (run `make book` first)")
    pages = sorted(p for p in root.rglob("*.html")
                   if not any(part.startswith("_") for part in p.relative_to(root).parts[:-1]))
    if not pages:
        raise FileNotFoundError(f"{root} holds no .html pages")
    return pages


def is_remote(url: str) -> bool:
    """True for a URL on another host (``http:``, ``https:``, ``//host/...``, ``ws:``)."""
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https", "ws", "wss", "ftp") or url.strip().startswith("//")


class _PageParser(HTMLParser):
    """Collect ids, links, loaded resources, error markers and, per cell, widgets and figures."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.resources: list[str] = []
        self.errors: list[str] = []
        self.cells: list[dict[str, bool]] = []
        self.prose: list[str] = []
        self._not_prose = 0
        self._div_depth = 0
        self._cell_depth: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        classes = set(attributes.get("class", "").split())
        for key in ("id", "name"):
            if attributes.get(key):
                self.ids.add(attributes[key])
        for needed, meaning in ERROR_CLASSES:
            if needed <= classes:
                self.errors.append(meaning)
        if tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        if tag in RESOURCE_ATTRIBUTES and not (
                tag == "link" and not set(attributes.get("rel", "").lower().split()) & LOADING_RELS):
            self.resources += [attributes[a] for a in RESOURCE_ATTRIBUTES[tag] if attributes.get(a)]
        if tag in _NOT_PROSE:
            self._not_prose += 1
        cell = self.cells[-1] if self._cell_depth is not None else None
        if tag == "div":
            self._div_depth += 1
            if self._cell_depth is None and "cell" in classes:
                self._cell_depth = self._div_depth
                self.cells.append({"widget": False, "figure": False})
        elif tag == "img":
            self.images.append(attributes.get("src", ""))
            if cell is not None:
                cell["figure"] = True
        elif tag == "svg" and cell is not None:
            cell["figure"] = True
        elif tag == "script" and attributes.get("type") == WIDGET_VIEW and cell is not None:
            cell["widget"] = True

    def handle_data(self, data: str) -> None:
        if not self._not_prose:
            self.prose.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in _NOT_PROSE and self._not_prose:
            self._not_prose -= 1
        if tag == "div":
            if self._div_depth == self._cell_depth:
                self._cell_depth = None
            self._div_depth -= 1


def _local_target(page: Path, url: str) -> Path | None:
    """The file a URL in ``page`` points at, or ``None`` for data:, mailto: and remote URLs."""
    parts = urlsplit(url)
    if is_remote(url) or parts.scheme in ("data", "mailto", "javascript", "tel", "blob"):
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if not parts.path:
        return page
    target = (page.parent / unquote(parts.path)).resolve()
    return target / "index.html" if target.is_dir() else target


class PageIndex:
    """Parsed pages of one build, each parsed once (links need the anchors of other pages)."""

    def __init__(self) -> None:
        self._parsed: dict[Path, _PageParser] = {}

    def parse(self, page: Path) -> _PageParser:
        page = Path(page).resolve()
        if page not in self._parsed:
            parser = _PageParser()
            parser.feed(page.read_text(encoding="utf-8", errors="replace"))
            self._parsed[page] = parser
        return self._parsed[page]

    def has_anchor(self, page: Path, anchor: str) -> bool:
        return anchor in self.parse(page).ids


def _link_problems(name: str, page: Path, parser: _PageParser, index: PageIndex) -> list[Problem]:
    problems = []
    for href in dict.fromkeys(parser.links):
        target = _local_target(page, href)
        if target is None:
            continue
        if not target.is_file():
            problems.append(Problem(name, "broken internal link", href))
            continue
        anchor = unquote(urlsplit(href).fragment)
        if anchor and target.suffix == ".html" and not index.has_anchor(target, anchor):
            problems.append(Problem(name, "link to a missing anchor", href))
    return problems


def html_problems(page: Path, root: Path, index: PageIndex | None = None) -> list[Problem]:
    """Problems visible in the page's HTML alone (no browser needed)."""
    index = index or PageIndex()
    page = Path(page)
    name = str(page.relative_to(root))
    text = page.read_text(encoding="utf-8", errors="replace")
    redirect = _REDIRECT.search(text)
    if redirect:  # e.g. the root index.html that forwards to the first page
        target = _local_target(page, redirect.group(1))
        if target is not None and not target.is_file():
            return [Problem(name, "redirect to a missing page", redirect.group(1))]
        return []
    parser = index.parse(page)
    problems = [Problem(name, meaning) for meaning in dict.fromkeys(parser.errors)]
    if TRACEBACK_TEXT in html.unescape(text) and "error traceback in a cell" not in parser.errors:
        problems.append(Problem(name, "Python traceback in the page"))
    for src in parser.images:
        target = _local_target(page, src) if src else None
        if not src:
            problems.append(Problem(name, "image without src"))
        elif target is not None and not target.is_file():
            problems.append(Problem(name, "missing image", src))
    for url in dict.fromkeys(parser.resources):
        if is_remote(url):
            problems.append(Problem(name, "resource from another host", url))
    problems += _link_problems(name, page, parser, index)
    for fence in dict.fromkeys(RAW_DIRECTIVE.findall("".join(parser.prose))):
        problems.append(Problem(name, "MyST directive shown as text", fence))
    for number, cell in enumerate(parser.cells):
        if cell["widget"] and not cell["figure"] and not (
                number + 1 < len(parser.cells) and parser.cells[number + 1]["figure"]):
            problems.append(Problem(
                name, "widget without a static figure",
                f"cell {number + 1}: widgets are blank without a kernel; show a figure next to it"))
    return problems
