"""The rendered book loads nothing from another host, and CI reads it in a real browser."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tools import vendor_mathjax

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sphinx_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]


def test_mathjax_is_the_vendored_copy_served_from_the_books_static_folder(sphinx_config):
    config = sphinx_config["config"]
    static = [ROOT / path for path in config["html_static_path"]]
    assert vendor_mathjax.DEST.parent in static
    assert config["mathjax_path"] == f"{vendor_mathjax.DEST.name}/{vendor_mathjax.ENTRY}"
    assert sphinx_config["local_extensions"] == {"tools.vendor_mathjax": "."}


def test_no_script_or_stylesheet_comes_from_a_cdn(sphinx_config):
    config = sphinx_config["config"]
    assert config["nb_ipywidgets_js"] == {}  # widgets: a static figure stands beside each
    for name in config["html_css_files"]:
        assert (ROOT / "book" / "_static" / name).is_file()
    assert "//" not in yaml.safe_dump(config), "a URL in the Sphinx configuration"


def _dry_run(target: str) -> str:
    return subprocess.run(["make", "-n", "--no-print-directory", target], cwd=ROOT, text=True,
                          capture_output=True, check=True).stdout


def test_make_test_builds_the_ci_book_and_checks_it_in_chromium():
    test = _dry_run("test")
    unit = test.index("-m pytest tests -q")
    build = test.index("jupyter-book build . --path-output _build/ci -W -n --keep-going")
    browse = test.index("-m tools.browser_check _build/ci/_build/html --screenshots")
    assert unit < build < browse
    assert "export HYBRIDLIB_PROFILE=ci" in test[unit:build]


def test_make_test_installs_chromium_and_the_japanese_font_when_root():
    browser = _dry_run("browser")
    assert "apt-get install -y -qq --no-install-recommends" in browser
    assert all(package in browser for package in ("chromium", "fonts-noto-cjk"))
