"""Check a built book the way a reader sees it: every page, in a real (headless) browser.

``python -m tools.browser_check _build/html --screenshots _build/screenshots``

Two kinds of checks, so the first can run (and be tested) without a browser:

* **HTML checks** (:func:`html_problems`): no error output (stderr boxes, tracebacks, docutils
  error messages, unresolved references) in the page; every ``<img>`` points at a file that
  exists; every widget output has a static figure in its cell or the next one, because
  ipywidgets draw nothing without a kernel and their CDN scripts.
* **Browser checks** (:func:`browser_problems`, needs Chromium): the page is opened through
  ``file://``, a screenshot is saved, and the DOM after loading says whether every image was
  actually decoded. Mermaid diagrams that were not drawn (mermaid.js comes from a CDN) are
  reported as notes, not problems.

Chromium on Debian: ``apt-get install -y --no-install-recommends chromium fonts-noto-cjk``
(the CJK font renders the Japanese text of the pages). Exit status 1 lists every problem.
Introduced in: the book's build checks (``make check-book``).
"""
from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = [
    "Problem", "find_pages", "html_problems", "find_chromium", "chromium_command",
    "browser_problems", "check_build", "main",
]

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--virtual-time-budget=5000", "--window-size=1280,1600",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
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
_REDIRECT = re.compile(r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["']\d+;\s*url=([^"']+)""", re.I)
# Appended to a copy of the page: mark every image as decoded or not, and every mermaid
# block as drawn or not, then flag the document as checked.
_PROBE = """
<script>
(function () {
  for (const img of document.images) { img.loading = "eager"; }
  window.addEventListener("load", function () {
    const waits = Array.from(document.images, (img) => img.decode().catch(() => null));
    Promise.all(waits).then(function () {
      for (const img of document.images) {
        img.setAttribute("data-check-loaded",
                         img.complete && img.naturalWidth > 0 ? "yes" : "no");
      }
      for (const pre of document.querySelectorAll("pre.mermaid")) {
        pre.setAttribute("data-check-drawn", pre.querySelector("svg") ? "yes" : "no");
      }
      document.documentElement.setAttribute("data-check-done", "yes");
    });
  });
})();
</script>
"""


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


class _PageParser(HTMLParser):
    """Collect image sources, error markers and, per notebook cell, widgets and figures."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.errors: list[str] = []
        self.cells: list[dict[str, bool]] = []
        self._div_depth = 0
        self._cell_depth: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        for needed, meaning in ERROR_CLASSES:
            if needed <= classes:
                self.errors.append(meaning)
        cell = self.cells[-1] if self._cell_depth is not None else None
        if tag == "div":
            self._div_depth += 1
            if self._cell_depth is None and "cell" in classes:
                self._cell_depth = self._div_depth
                self.cells.append({"widget": False, "figure": False})
        elif tag == "img":
            self.images.append(attributes.get("src") or "")
            if cell is not None:
                cell["figure"] = True
        elif tag == "svg" and cell is not None:
            cell["figure"] = True
        elif tag == "script" and attributes.get("type") == WIDGET_VIEW and cell is not None:
            cell["widget"] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            if self._div_depth == self._cell_depth:
                self._cell_depth = None
            self._div_depth -= 1


def _local_target(page: Path, src: str) -> Path | None:
    """The file an ``<img src>`` points at, or ``None`` for data: and web URLs."""
    parts = urlsplit(src)
    if parts.scheme in ("data", "http", "https") or src.startswith("//"):
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return (page.parent / unquote(parts.path)).resolve()


def html_problems(page: Path, root: Path) -> list[Problem]:
    """Problems visible in the page's HTML alone (no browser needed)."""
    name = str(Path(page).relative_to(root))
    text = Path(page).read_text(encoding="utf-8", errors="replace")
    redirect = _REDIRECT.search(text)
    if redirect:  # e.g. the root index.html that forwards to the first page
        target = _local_target(Path(page), redirect.group(1))
        if target is not None and not target.is_file():
            return [Problem(name, "redirect to a missing page", redirect.group(1))]
        return []
    parser = _PageParser()
    parser.feed(text)
    problems = [Problem(name, meaning) for meaning in dict.fromkeys(parser.errors)]
    if TRACEBACK_TEXT in html.unescape(text) and "error traceback in a cell" not in parser.errors:
        problems.append(Problem(name, "Python traceback in the page"))
    for src in parser.images:
        if not src:
            problems.append(Problem(name, "image without src"))
            continue
        target = _local_target(Path(page), src)
        if target is not None and not target.is_file():
            problems.append(Problem(name, "missing image", src))
    for index, cell in enumerate(parser.cells):
        if cell["widget"] and not cell["figure"] and not (
                index + 1 < len(parser.cells) and parser.cells[index + 1]["figure"]):
            problems.append(Problem(
                name, "widget without a static figure",
                f"cell {index + 1}: widgets are blank without a kernel; show a figure next to it"))
    return problems


def find_chromium(explicit: str | None = None) -> str | None:
    """Path of a Chromium/Chrome executable (``explicit``, ``$CHROMIUM``, then ``PATH``)."""
    for candidate in (explicit, os.environ.get("CHROMIUM"), *CHROMIUM_NAMES):
        if candidate:
            found = shutil.which(candidate)
            if found:
                return found
    return None


def chromium_command(chromium: str, profile_dir: Path, *action: str, url: str) -> list[str]:
    """Command line for one headless Chromium run with a fresh profile."""
    return [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *action, url]


def _run_chromium(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _probe_copy(page: Path, workdir: Path) -> Path:
    """A copy of ``page`` that resolves links against the original folder and runs the probe."""
    text = page.read_text(encoding="utf-8", errors="replace")
    base = f'<base href="{page.parent.resolve().as_uri()}/">'
    text = re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + base, text, count=1, flags=re.I)
    if "</body>" in text:
        text = text.replace("</body>", _PROBE + "</body>", 1)
    else:
        text += _PROBE
    copy = workdir / "probe.html"
    copy.write_text(text, encoding="utf-8")
    return copy


def browser_problems(page: Path, root: Path, chromium: str, screenshot_dir: Path | None = None,
                     timeout: float = 90.0) -> list[Problem]:
    """Open ``page`` in headless Chromium: screenshot it, and check images and diagrams loaded."""
    name = str(Path(page).relative_to(root))
    if _REDIRECT.search(Path(page).read_text(encoding="utf-8", errors="replace")):
        return []  # a redirect has nothing to show; html_problems checks its target
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="browser_check_") as tmp:
        tmp_path = Path(tmp)
        if screenshot_dir is not None:
            shot = Path(screenshot_dir) / (name.replace(os.sep, "__").removesuffix(".html") + ".png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            command = chromium_command(chromium, tmp_path / "profile-shot",
                                       f"--screenshot={shot}", url=Path(page).resolve().as_uri())
            try:
                result = _run_chromium(command, timeout)
            except subprocess.TimeoutExpired:
                return [Problem(name, "browser timed out taking the screenshot", f"{timeout:.0f} s")]
            if not shot.is_file() or shot.stat().st_size == 0:
                problems.append(Problem(name, "no screenshot", result.stderr.strip()[-300:]))
        probe = _probe_copy(Path(page), tmp_path)
        command = chromium_command(chromium, tmp_path / "profile-dom", "--dump-dom",
                                   url=probe.as_uri())
        try:
            result = _run_chromium(command, timeout)
        except subprocess.TimeoutExpired:
            return problems + [Problem(name, "browser timed out loading the page", f"{timeout:.0f} s")]
    dom = result.stdout
    if 'data-check-done="yes"' not in dom:
        return problems + [Problem(name, "page did not finish loading in the browser",
                                   result.stderr.strip()[-300:])]
    for tag in re.findall(r"<img\b[^>]*>", dom):
        if 'data-check-loaded="no"' in tag:
            src = re.search(r'\bsrc="([^"]*)"', tag)
            problems.append(Problem(name, "image did not load in the browser",
                                    html.unescape(src.group(1)) if src else tag[:120]))
    undrawn = len(re.findall(r'data-check-drawn="no"', dom))
    if undrawn:
        problems.append(Problem(name, "mermaid diagram not drawn",
                                f"{undrawn} block(s); mermaid.js comes from a CDN (offline?)",
                                fatal=False))
    return problems


def check_build(root: Path, screenshot_dir: Path | None = None, *, browser: bool = True,
                chromium: str | None = None, timeout: float = 90.0) -> list[Problem]:
    """Run the HTML checks, and the browser checks when ``browser`` is true, on every page.

    Raises:
        FileNotFoundError: no built pages, or ``browser`` is true and Chromium is not found.
    """
    root = Path(root)
    pages = find_pages(root)
    executable = None
    if browser:
        executable = find_chromium(chromium)
        if executable is None:
            raise FileNotFoundError(
                "Chromium not found (looked for $CHROMIUM and " + ", ".join(CHROMIUM_NAMES) + "). "
                "Install it with `apt-get install -y --no-install-recommends chromium "
                "fonts-noto-cjk`, or pass --no-browser for the HTML checks only.")
    problems: list[Problem] = []
    for page in pages:
        problems += html_problems(page, root)
        if executable is not None:
            problems += browser_problems(page, root, executable, screenshot_dir, timeout)
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: print every problem; exit status 1 when any is fatal."""
    parser = argparse.ArgumentParser(prog="python -m tools.browser_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=Path, help="built HTML folder, e.g. _build/html")
    parser.add_argument("--screenshots", type=Path, help="folder for one PNG per page")
    parser.add_argument("--chromium", help="browser executable (default: $CHROMIUM or PATH)")
    parser.add_argument("--no-browser", action="store_true", help="HTML checks only")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per browser run")
    args = parser.parse_args(argv)
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
    print(f"checked {len(pages)} pages: {len(fatal)} problem(s), "
          f"{len(problems) - len(fatal)} note(s){where}")
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())
