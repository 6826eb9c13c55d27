"""The built-book checker flags exactly the broken pages of a small hand-made site.

Each page below carries one defect a reader would see (TeX source instead of a formula, a
script from another host, an image that does not load, characters drawn as boxes, code cut
at the page edge, a broken link); ``good.html`` carries none and must pass. The browser
tests need Chromium (``apt-get install -y --no-install-recommends chromium fonts-noto-cjk``).
"""
from __future__ import annotations

import base64
from pathlib import Path

import matplotlib
import pytest

from tools import browser_check, vendor_mathjax
from tools.browser_check import Chromium

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
PAGE = """<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{title}</title>
<style>pre {{ overflow: auto; }}</style>{head}
</head><body><h1 id="top">{title}</h1>
<div class="cell docutils container"><div class="cell_output docutils container">{body}</div></div>
</body></html>"""
LONG_LINE = "x = " + " + ".join(["value"] * 30)


def _page(title: str, body: str, head: str = "") -> str:
    return PAGE.format(title=title, body=body, head=head)


def _code_cell(code: str) -> str:
    return ('<div class="cell_input docutils container"><div class="highlight"><pre>'
            f"{code}</pre></div></div>")


#: page -> (HTML, defects the HTML checks must find, defects only the browser finds)
SITE = {
    "good.html": (_page("良いページ", '日本語の本文。<img alt="図" src="_images/fig.png" />'
                        '<a href="other/page.html#part">次へ</a> <a href="#top">上へ</a>'
                        + _code_cell("short = 1")), set(), set()),
    "other/page.html": (_page("別のページ", '<h2 id="part">節</h2><a href="../good.html">戻る</a>'),
                        set(), set()),
    "traceback.html": (_page("エラー", '<div class="output traceback highlight-ipythontb notranslate">'
                             "<pre>Traceback (most recent call last):\nValueError: boom</pre></div>"),
                       {"error traceback in a cell"}, set()),
    "missing_image.html": (_page("画像なし", '<img src="_images/gone.png" />'),
                           {"missing image"}, {"image did not load in the browser",
                                               "local resource failed to load"}),
    "broken_image.html": (_page("壊れた画像", '<img src="_images/broken.png" />'),
                          set(), {"image did not load in the browser"}),
    "tex.html": (_page("数式", '<p>重み <span class="math notranslate nohighlight">\\(\\alpha\\)</span>'
                       " と $$x$$</p>"),
                 set(), {"TeX source visible in the text", "formula not typeset by MathJax"}),
    "remote.html": (_page("外部", "本文", head='<link rel="stylesheet" href="https://cdn.example.invalid/a.css">'),
                    {"resource from another host"}, {"request to another host"}),
    "remote_by_script.html": (_page("外部", "<script>fetch('https://data.example.invalid/x.json')"
                                    ".catch(() => null)</script>"),
                              set(), {"request to another host"}),
    "wide_code.html": (_page("長い行", _code_cell(LONG_LINE)), set(), {"code cell wider than the page"}),
    "links.html": (_page("リンク", '<a href="gone.html">なし</a> <a href="good.html#nowhere">x</a>'),
                   {"broken internal link", "link to a missing anchor"}, set()),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site") / "html"
    (root / "_images").mkdir(parents=True)
    (root / "_images" / "fig.png").write_bytes(PNG_1PX)
    (root / "_images" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "_static").mkdir()
    (root / "_static" / "ignored.html").write_text("<p>Traceback (most recent call last)</p>")
    (root / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=good.html" />')
    for name, (text, _, _) in SITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _by_page(problems, fatal: bool = True) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for problem in problems:
        if problem.fatal == fatal:
            found.setdefault(problem.page, set()).add(problem.kind)
    return found


def test_find_pages_skips_sphinx_internal_folders(site):
    names = [str(p.relative_to(site)) for p in browser_check.find_pages(site)]
    assert names == sorted(["index.html", *SITE])
    with pytest.raises(FileNotFoundError, match="make book"):
        browser_check.find_pages(site / "nope")


def test_html_checks_flag_exactly_the_bad_pages(site):
    expected = {name: html for name, (_, html, _) in SITE.items() if html}
    assert _by_page(browser_check.check_build(site, browser=False)) == expected


def test_html_checks_catch_stderr_docutils_errors_and_broken_redirects(tmp_path):
    (tmp_path / "stderr.html").write_text(_page("x", '<div class="output stderr">warn</div>'))
    (tmp_path / "docutils.html").write_text(_page("x", '<div class="system-message">bad</div>'))
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=gone.html" />')
    assert _by_page(browser_check.check_build(tmp_path, browser=False)) == {
        "stderr.html": {"stderr output in a cell"},
        "docutils.html": {"docutils error message"},
        "index.html": {"redirect to a missing page"},
    }


def test_a_directive_shown_as_text_is_flagged_but_not_one_in_code(tmp_path):
    raw = "<p>````{admonition} <code>fit</code> の中身\n:class: dropdown</p>"
    (tmp_path / "raw.html").write_text(_page("x", raw))
    (tmp_path / "colon.html").write_text(_page("x", "<p>:::{note}\n本文</p>"))
    (tmp_path / "code.html").write_text(_page("x", "<pre>```{code-cell} python</pre>"
                                                   "<p><code>:::{note}</code> と書きます</p>"))
    problems = browser_check.check_build(tmp_path, browser=False)
    assert {(p.page, p.kind, p.detail) for p in problems} == {
        ("raw.html", "MyST directive shown as text", "````{admonition}"),
        ("colon.html", "MyST directive shown as text", ":::{note}")}


def test_only_loaded_resources_count_as_remote_not_links_or_canonical_names(tmp_path):
    head = ('<link rel="canonical" href="https://example.invalid/book/x.html">'
            '<script src="//cdn.example.invalid/lib.js"></script>')
    (tmp_path / "x.html").write_text(_page("x", '<a href="https://example.invalid/">外部リンク</a>', head))
    problems = browser_check.check_build(tmp_path, browser=False)
    assert [(p.kind, p.detail) for p in problems] == [
        ("resource from another host", "//cdn.example.invalid/lib.js")]


def test_a_widget_needs_a_static_figure_in_its_cell_or_the_next(tmp_path):
    widget = '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "a"}</script>'
    cell = '<div class="cell docutils container"><div class="cell_output">{}</div></div>'
    figure = '<img src="data:image/png;base64,AAAA" />'
    alone = _page("w", "").replace("</body>", cell.format(widget) + "</body>")
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
    assert "PROBLEM good.html" not in out
    assert browser_check.main([str(site / "nope"), "--no-browser"]) == 2


def test_the_browser_runs_with_the_network_cut_off():
    assert "--host-resolver-rules=MAP * ~NOTFOUND" in browser_check.CHROMIUM_FLAGS
    assert "--headless" in browser_check.CHROMIUM_FLAGS


CHROMIUM = browser_check.find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not installed (apt-get install -y --no-install-recommends chromium fonts-noto-cjk)")


@pytest.fixture(scope="module")
def browser_run(site, tmp_path_factory):
    shots = tmp_path_factory.mktemp("shots")
    return browser_check.check_build(site, shots, chromium=CHROMIUM, timeout=30), shots


@needs_chromium
def test_browser_flags_exactly_the_bad_pages(browser_run):
    problems, _ = browser_run
    expected = {name: html | browser for name, (_, html, browser) in SITE.items() if html | browser}
    assert _by_page(problems) == expected


@needs_chromium
def test_browser_reports_which_line_is_too_wide_and_which_host_was_asked(browser_run):
    problems, _ = browser_run
    details = {(p.page, p.kind): p.detail for p in problems}
    assert LONG_LINE[:40] in details["wide_code.html", "code cell wider than the page"]
    assert "https://data.example.invalid/x.json" in details[
        "remote_by_script.html", "request to another host"]


@needs_chromium
def test_browser_screenshots_every_page_but_the_redirect(browser_run):
    _, shots = browser_run
    expected = sorted(browser_check.screenshot_name(name) for name in SITE)
    assert sorted(p.name for p in shots.iterdir()) == expected
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in shots.iterdir())


@needs_chromium
def test_a_wide_cell_output_is_a_note_not_a_failure(tmp_path):
    (tmp_path / "out.html").write_text(_page("出力", f"<div class='highlight'><pre>{LONG_LINE}</pre></div>"))
    problems = browser_check.check_build(tmp_path, chromium=CHROMIUM, timeout=30)
    assert _by_page(problems) == {}
    assert _by_page(problems, fatal=False) == {"out.html": {"cell output wider than the page"}}


def _fonts_conf(tmp_path: Path, font_dir: Path) -> Path:
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
                    f"<fontconfig><dir>{font_dir}</dir><cachedir>{tmp_path / 'cache'}</cachedir>"
                    "</fontconfig>")
    return conf


@needs_chromium
def test_japanese_without_a_japanese_font_is_drawn_as_boxes_and_flagged(tmp_path):
    """The real failure: a machine without a CJK font. Only DejaVu (from matplotlib) is offered."""
    page = tmp_path / "ja.html"
    page.write_text(_page("日本語", "<p>生成エネルギーの予測</p>"), encoding="utf-8")
    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    with Chromium(CHROMIUM, env={"FONTCONFIG_FILE": str(_fonts_conf(tmp_path, dejavu))}) as browser:
        problems = browser_check.browser_problems(page, tmp_path, browser, timeout=30)
    boxes = [p for p in problems if p.kind == "characters drawn as boxes (no font has them)"]
    assert boxes and "生" in boxes[0].detail and "日" in boxes[0].detail


needs_mathjax = pytest.mark.skipif(bool(vendor_mathjax.missing()),
                                   reason="MathJax not vendored (python -m tools.vendor_mathjax)")


@needs_chromium
@needs_mathjax
def test_the_vendored_mathjax_renders_formulas_offline_and_reports_tex_errors(tmp_path):
    script = (vendor_mathjax.DEST / vendor_mathjax.ENTRY).as_uri()
    head = f'<script defer src="{script}"></script>'
    math = '<span class="math notranslate nohighlight">{}</span>'
    (tmp_path / "ok.html").write_text(_page("数式", math.format(r"\(\hat{y} = \alpha\,\cancel{x}\)"), head))
    (tmp_path / "bad.html").write_text(_page("数式", math.format(r"\(x^1^2\)"), head))
    problems = browser_check.check_build(tmp_path, chromium=CHROMIUM, timeout=30)
    assert _by_page(problems) == {"bad.html": {"MathJax error in a formula"}}
