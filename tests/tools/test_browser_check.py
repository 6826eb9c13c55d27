"""The built-book checker flags exactly the broken pages of a small hand-made site."""
from __future__ import annotations

import base64

import pytest

from tools import browser_check

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
PAGE = """<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
<div class="cell docutils container"><div class="cell_output docutils container">{body}</div></div>
</body></html>"""


def _page(title: str, body: str) -> str:
    return PAGE.format(title=title, body=body)


@pytest.fixture
def site(tmp_path):
    """good.html, traceback.html and missing_image.html (+ a redirecting index.html)."""
    root = tmp_path / "html"
    (root / "_images").mkdir(parents=True)
    (root / "_images" / "fig.png").write_bytes(PNG_1PX)
    (root / "_static").mkdir()
    (root / "_static" / "ignored.html").write_text("<p>Traceback (most recent call last)</p>")
    (root / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=good.html" />')
    (root / "good.html").write_text(_page("良いページ", '<img alt="図" src="_images/fig.png" />'))
    (root / "traceback.html").write_text(_page(
        "エラー", '<div class="output traceback highlight-ipythontb notranslate"><pre>'
                  "Traceback (most recent call last):\nValueError: boom</pre></div>"))
    (root / "missing_image.html").write_text(_page("画像なし", '<img src="_images/gone.png" />'))
    return root


def _by_page(problems):
    found: dict[str, set[str]] = {}
    for problem in problems:
        if problem.fatal:
            found.setdefault(problem.page, set()).add(problem.kind)
    return found


def test_find_pages_skips_sphinx_internal_folders(site):
    names = [p.name for p in browser_check.find_pages(site)]
    assert names == ["good.html", "index.html", "missing_image.html", "traceback.html"]
    with pytest.raises(FileNotFoundError, match="make book"):
        browser_check.find_pages(site / "nope")


def test_html_checks_flag_exactly_the_bad_pages(site):
    problems = browser_check.check_build(site, browser=False)
    assert _by_page(problems) == {
        "traceback.html": {"error traceback in a cell"},
        "missing_image.html": {"missing image"},
    }


def test_html_checks_catch_stderr_docutils_errors_and_broken_redirects(tmp_path):
    (tmp_path / "stderr.html").write_text(_page("x", '<div class="output stderr">warn</div>'))
    (tmp_path / "docutils.html").write_text(_page("x", '<div class="system-message">bad</div>'))
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=gone.html" />')
    assert _by_page(browser_check.check_build(tmp_path, browser=False)) == {
        "stderr.html": {"stderr output in a cell"},
        "docutils.html": {"docutils error message"},
        "index.html": {"redirect to a missing page"},
    }


def test_a_widget_needs_a_static_figure_in_its_cell_or_the_next(tmp_path):
    widget = '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "a"}</script>'
    cell = '<div class="cell docutils container"><div class="cell_output">{}</div></div>'
    figure = '<img src="data:image/png;base64,AAAA" />'
    alone = PAGE.format(title="w", body="").replace("</body>", cell.format(widget) + "</body>")
    followed = alone.replace("</body>", cell.format(figure) + "</body>")
    (tmp_path / "alone.html").write_text(alone)
    (tmp_path / "followed.html").write_text(followed)
    (tmp_path / "same_cell.html").write_text(_page("w", widget + figure))
    assert _by_page(browser_check.check_build(tmp_path, browser=False)) == {
        "alone.html": {"widget without a static figure"}}


def test_main_exits_nonzero_and_lists_the_problems(site, capsys):
    assert browser_check.main([str(site), "--no-browser"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM traceback.html: error traceback in a cell" in out
    assert "PROBLEM missing_image.html: missing image: _images/gone.png" in out
    assert "good.html" not in out
    assert browser_check.main([str(site / "nope"), "--no-browser"]) == 2


def test_chromium_command_uses_a_fresh_profile_and_quiet_flags(tmp_path):
    command = browser_check.chromium_command("chromium", tmp_path, "--dump-dom", url="file:///x.html")
    assert command[0] == "chromium" and command[-1] == "file:///x.html"
    assert f"--user-data-dir={tmp_path}" in command
    for flag in ("--headless", "--no-sandbox", "--disable-background-networking",
                 "--virtual-time-budget=5000"):
        assert flag in command


CHROMIUM = browser_check.find_chromium()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed "
                    "(apt-get install -y --no-install-recommends chromium fonts-noto-cjk)")
def test_browser_screenshots_every_page_and_flags_exactly_the_bad_ones(site, tmp_path):
    shots = tmp_path / "shots"
    problems = browser_check.check_build(site, shots, chromium=CHROMIUM, timeout=60)
    assert _by_page(problems) == {
        "traceback.html": {"error traceback in a cell"},
        "missing_image.html": {"missing image", "image did not load in the browser"},
    }
    assert sorted(p.name for p in shots.iterdir()) == [
        "good.png", "missing_image.png", "traceback.png"]
    assert all((shots / name).read_bytes()[:4] == b"\x89PNG" for name in ("good.png",))
