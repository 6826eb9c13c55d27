"""Check a built book the way a reader sees it: every page, in headless Chromium, offline.

``python -m tools.browser_check _build/html --screenshots _build/screenshots``

* **HTML checks** (:mod:`.pages`, no browser): error output left in a page, missing image
  files, resources referenced from another host, broken internal links and anchors, widgets
  without a static figure, MyST directives shown as text (their fence was not parsed).
* **Browser checks** (:mod:`.browser`, needs Chromium): each page is opened through
  ``file://`` with the network off and a screenshot of it is saved; it fails on TeX source in
  the text (formulas MathJax did not render), any request to another host, local files that
  did not load, images that did not decode, characters drawn as boxes and code wider than the
  page.

Chromium on Debian: ``apt-get install -y --no-install-recommends chromium fonts-noto-cjk``
(the CJK font draws the pages' Japanese). Exit status 1 lists every problem, 2 means the
book or the browser was not found. Introduced in: the book's build checks (``make check-book``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from .browser import browser_problems, screenshot_name
from .cdp import CHROMIUM_FLAGS, Chromium
from .pages import PageIndex, Problem, find_pages, html_problems

__all__ = [
    "CHROMIUM_FLAGS", "CHROMIUM_NAMES", "Problem", "find_pages", "html_problems",
    "find_chromium", "browser_problems", "screenshot_name", "check_build", "main",
]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(explicit: str | None = None) -> str | None:
    """Path of a Chromium/Chrome executable (``explicit``, ``$CHROMIUM``, then ``PATH``)."""
    for candidate in (explicit, os.environ.get("CHROMIUM"), *CHROMIUM_NAMES):
        if candidate:
            found = shutil.which(candidate)
            if found:
                return found
    return None


def check_build(root: Path, screenshot_dir: Path | None = None, *, browser: bool = True,
                chromium: str | None = None, timeout: float = 60.0) -> list[Problem]:
    """Run the HTML checks, and the browser checks when ``browser`` is true, on every page.

    Raises:
        FileNotFoundError: no built pages, or ``browser`` is true and Chromium is not found.
    """
    root = Path(root)
    pages = find_pages(root)
    index = PageIndex()
    problems = [p for page in pages for p in html_problems(page, root, index)]
    if not browser:
        return problems
    executable = find_chromium(chromium)
    if executable is None:
        raise FileNotFoundError(
            "Chromium not found (looked for $CHROMIUM and " + ", ".join(CHROMIUM_NAMES) + "). "
            "Install it with `apt-get install -y --no-install-recommends chromium "
            "fonts-noto-cjk`, or pass --no-browser for the HTML checks only.")
    with Chromium(executable) as session:
        for page in pages:
            problems += browser_problems(page, root, session, screenshot_dir, timeout)
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: print every problem; exit status 1 when any is fatal."""
    parser = argparse.ArgumentParser(prog="python -m tools.browser_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=Path, help="built HTML folder, e.g. _build/html")
    parser.add_argument("--screenshots", type=Path, help="folder for one PNG per page")
    parser.add_argument("--chromium", help="browser executable (default: $CHROMIUM or PATH)")
    parser.add_argument("--no-browser", action="store_true", help="HTML checks only")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per page step")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        pages = find_pages(args.build)
        problems = check_build(args.build, args.screenshots, browser=not args.no_browser,
                               chromium=args.chromium, timeout=args.timeout)
    except FileNotFoundError as exc:
        print(f"browser_check: {exc}", file=sys.stderr)
        return 2
    fatal = [p for p in problems if p.fatal]
    for problem in problems:
        print(("PROBLEM " if problem.fatal else "note    ") + str(problem))
    where = f"; screenshots in {args.screenshots}" if args.screenshots and not args.no_browser else ""
    mode = "HTML only" if args.no_browser else "Chromium, network off"
    print(f"checked {len(pages)} pages ({mode}) in {time.monotonic() - start:.0f} s: "
          f"{len(fatal)} problem(s), {len(problems) - len(fatal)} note(s){where}")
    return 1 if fatal else 0
