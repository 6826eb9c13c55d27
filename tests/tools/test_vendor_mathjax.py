"""Vendoring MathJax takes only what the book loads, and only the tarball the registry published.

A stand-in ``npm`` writes a small tarball shaped like the real package, so these tests run
offline; ``make install`` runs the real thing.
"""
from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from tools import vendor_mathjax

MEMBERS = [
    "package/LICENSE", "package/es5/tex-chtml.js", "package/es5/tex-mml-chtml.js",
    "package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
    "package/es5/output/chtml/fonts/tex.js", "package/es5/input/tex/extensions/cancel.js",
    "package/es5/sre/mathmaps/de.json", "package/ts/core/MathItem.ts",
]


def _fake_npm(tmp_path: Path) -> tuple[str, Path]:
    """An ``npm`` whose ``pack`` copies a prepared tarball into --pack-destination."""
    tarball = tmp_path / "mathjax-3.2.2.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name in MEMBERS:
            data = f"/* {name} */".encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    npm = tmp_path / "npm"
    npm.write_text(f'#!/bin/sh\nwhile [ "$1" != "--pack-destination" ]; do shift; done\n'
                   f'cp "{tarball}" "$2/"\n')
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    return str(npm), tarball


def test_only_the_bundle_its_fonts_extensions_and_licence_are_wanted():
    kept = {m: vendor_mathjax.wanted(m) for m in MEMBERS}
    assert {m for m, target in kept.items() if target} == {
        "package/LICENSE", "package/es5/tex-chtml.js",
        "package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
        "package/es5/input/tex/extensions/cancel.js"}
    assert kept["package/es5/tex-chtml.js"] == vendor_mathjax.ENTRY


def test_vendor_unpacks_the_wanted_files_once_the_integrity_matches(tmp_path, monkeypatch):
    npm, tarball = _fake_npm(tmp_path)
    monkeypatch.setattr(vendor_mathjax, "INTEGRITY", vendor_mathjax._integrity(tarball))
    dest = tmp_path / "mathjax"
    assert vendor_mathjax.missing(dest)
    vendor_mathjax.vendor(dest, npm=npm)
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == [".version", "LICENSE", "input/tex/extensions/cancel.js",
                     "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff", "tex-chtml.js"]
    assert vendor_mathjax.missing(dest) == []


def test_vendor_refuses_a_tarball_that_is_not_the_published_one(tmp_path):
    npm, _ = _fake_npm(tmp_path)
    with pytest.raises(RuntimeError, match="does not match the published integrity"):
        vendor_mathjax.vendor(tmp_path / "mathjax", npm=npm)
    assert not (tmp_path / "mathjax").exists()


def test_vendor_says_how_to_get_npm_when_it_is_missing(tmp_path):
    with pytest.raises(RuntimeError, match="install Node.js/npm"):
        vendor_mathjax.vendor(tmp_path / "mathjax", npm=str(tmp_path / "no-npm"))


def test_the_book_build_stops_when_mathjax_is_not_vendored(tmp_path, monkeypatch):
    from sphinx.errors import ExtensionError

    monkeypatch.setattr(vendor_mathjax, "DEST", tmp_path / "empty")
    with pytest.raises(ExtensionError, match="python -m tools.vendor_mathjax"):
        vendor_mathjax._check_vendored(app=None)
