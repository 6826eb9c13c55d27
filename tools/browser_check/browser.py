"""Checks of a page as headless Chromium draws it, with the network off.

Each page opens in a fresh tab through ``file://``. After MathJax, the fonts and the images
have settled, ``probe.js`` reports TeX source left in the text, formulas that were not
typeset or that MathJax flagged as errors, images that did not decode and characters drawn
as boxes (no font has them). Every request the page made is recorded: one to another host is
a problem (the book must work offline), one for a local file that failed too. A screenshot
of the whole page is saved; then every ``<details>`` is opened and code blocks wider than
their box are reported with their longest line.
"""
from __future__ import annotations

import os
from pathlib import Path

from .cdp import Chromium, ProtocolError, Tab
from .pages import Problem, is_remote

__all__ = ["PROBE", "screenshot_name", "browser_problems"]

PROBE = (Path(__file__).with_name("probe.js")).read_text(encoding="utf-8")
_REDIRECT_MARK = 'http-equiv="Refresh"'


def screenshot_name(name: str) -> str:
    """``chapters/05_1.html`` -> ``chapters__05_1.png``."""
    return name.replace(os.sep, "__").removesuffix(".html") + ".png"


def _run(tab: Tab, phase: str, timeout: float) -> dict:
    return tab.evaluate(PROBE.replace("__PHASE__", phase), timeout=timeout)


def _look_problems(name: str, found: dict) -> list[Problem]:
    problems = []
    if found["texCount"]:
        problems.append(Problem(name, "TeX source visible in the text",
                                f"{found['texCount']}×, e.g. " + " | ".join(found["tex"][:3])))
    if found["untypesetCount"]:
        problems.append(Problem(name, "formula not typeset by MathJax",
                                f"{found['untypesetCount']}×, e.g. " + " | ".join(found["untypeset"][:3])))
    for error in found["mathErrors"]:
        problems.append(Problem(name, "MathJax error in a formula", error))
    for src in found["images"]:
        problems.append(Problem(name, "image did not load in the browser", src))
    for glyph in found["glyphs"]:
        problems.append(Problem(name, "characters drawn as boxes (no font has them)",
                                f"{glyph['count']} in {glyph['font']}: {glyph['chars']}"))
    if found["undecided"]:
        problems.append(Problem(name, "missing-glyph check undecided",
                                f"{found['undecided']} font(s) draw no box for unassigned "
                                "code points", fatal=False))
    if found["pageOverflow"]:
        problems.append(Problem(name, "page wider than the window", fatal=False))
    return problems


def _request_problems(name: str, tab: Tab) -> list[Problem]:
    problems = []
    for request in tab.requests:
        if is_remote(request.url):
            problems.append(Problem(name, "request to another host",
                                    f"{request.kind or 'resource'} {request.url}"))
        elif request.failed and not request.url.startswith("data:"):
            problems.append(Problem(name, "local resource failed to load",
                                    f"{request.url} ({request.failed})"))
    for exception in dict.fromkeys(tab.exceptions):
        problems.append(Problem(name, "script error", exception.splitlines()[0][:200], fatal=False))
    return problems


def _overflow_problems(name: str, found: dict) -> list[Problem]:
    """Code cells and code blocks must fit; a wide cell output (a repr, a log line) scrolls
    inside its box and is reported as a note."""
    problems = []
    for block in found["overflow"]:
        what = {"code": "code cell", "output": "cell output"}.get(block["where"], "code block")
        problems.append(Problem(
            name, f"{what} wider than the page",
            f"{block['lines']} line(s) over {block['fits']} characters, longest "
            f"{block['length']}: {block['line']!r}", fatal=block["where"] != "output"))
    return problems


def browser_problems(page: Path, root: Path, browser: Chromium,
                     screenshot_dir: Path | None = None, timeout: float = 60.0) -> list[Problem]:
    """Open ``page`` in a fresh offline tab of ``browser``, screenshot it and inspect it."""
    page = Path(page)
    name = str(page.relative_to(root))
    if _REDIRECT_MARK.lower() in page.read_text(encoding="utf-8", errors="replace").lower():
        return []  # a redirect has nothing to show; the HTML checks follow its target
    try:
        tab = browser.open(page.resolve().as_uri(), timeout)
    except ProtocolError as exc:
        return [Problem(name, "page did not load in the browser", str(exc))]
    try:
        look = _run(tab, "look", timeout)
        if screenshot_dir is not None:
            Path(screenshot_dir).mkdir(parents=True, exist_ok=True)
            tab.screenshot(Path(screenshot_dir) / screenshot_name(name))
        opened = _run(tab, "open", timeout)
    except ProtocolError as exc:
        tab.close()
        return [Problem(name, "page could not be inspected", str(exc))]
    tab.close()
    return _look_problems(name, look) + _request_problems(name, tab) + _overflow_problems(name, opened)

