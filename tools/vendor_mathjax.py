"""MathJax served by the built book itself, so its formulas render offline.

``python -m tools.vendor_mathjax`` (run by ``make install``) takes the npm package
``mathjax@3.2.2`` with ``npm pack``, checks it against the integrity the registry published,
and unpacks only what the book loads into ``book/_static/mathjax/`` (not committed; ~2 MB):
the TeX-to-HTML bundle ``es5/tex-chtml.js``, its web fonts and the TeX extensions that the
bundle's ``autoload`` fetches when a formula uses e.g. ``\\cancel`` or ``\\ce``.

Listed in ``_config.yml`` as a local Sphinx extension, this module also stops a book build
whose vendored copy is missing, instead of producing pages that show TeX source.
Introduced in: the book's build checks.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

__all__ = ["VERSION", "INTEGRITY", "DEST", "ENTRY", "wanted", "missing", "vendor", "setup"]

VERSION = "3.2.2"
#: ``npm view mathjax@3.2.2 dist.integrity``
INTEGRITY = ("sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO"
             "+geW0OhGw==")
ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "book" / "_static" / "mathjax"
#: the script the pages load, relative to DEST (``mathjax_path`` in _config.yml)
ENTRY = "tex-chtml.js"
_STAMP = ".version"


def wanted(member: str) -> str | None:
    """Where a file of the npm tarball goes inside DEST, or ``None`` if the book does not need it."""
    if member == "package/LICENSE":
        return "LICENSE"
    prefix = "package/es5/"
    if not member.startswith(prefix):
        return None
    inner = member[len(prefix):]
    if inner == ENTRY:
        return inner
    if inner.startswith("output/chtml/fonts/woff-v2/") and inner.endswith(".woff"):
        return inner
    if inner.startswith("input/tex/extensions/") and inner.endswith(".js"):
        return inner
    return None


def missing(dest: Path | None = None) -> list[str]:
    """What a book build needs from the vendored copy and does not find (empty: all there)."""
    dest = Path(dest or DEST)
    needs = [ENTRY, "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
             "input/tex/extensions/cancel.js"]
    absent = [name for name in needs if not (dest / name).is_file()]
    stamp = dest / _STAMP
    if not stamp.is_file() or stamp.read_text().strip() != VERSION:
        absent.append(f"{_STAMP} = {VERSION}")
    return absent


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def vendor(dest: Path = DEST, npm: str = "npm") -> Path:
    """Fetch ``mathjax@VERSION`` with npm and unpack the files the book needs into ``dest``.

    Nothing is fetched when ``dest`` already holds this version.

    Raises:
        RuntimeError: npm is missing or failed, or the tarball does not match INTEGRITY.
    """
    dest = Path(dest)
    if not missing(dest):
        return dest
    if shutil.which(npm) is None:
        raise RuntimeError(f"{npm!r} not found: install Node.js/npm (Debian: apt-get install npm) "
                           "to fetch MathJax for the book")
    with tempfile.TemporaryDirectory(prefix="mathjax_") as tmp:
        result = subprocess.run([npm, "pack", f"mathjax@{VERSION}", "--silent",
                                 "--pack-destination", tmp], capture_output=True, text=True)
        tarballs = list(Path(tmp).glob("mathjax-*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise RuntimeError(f"npm pack mathjax@{VERSION} failed: {result.stderr.strip()[-500:]}")
        if _integrity(tarballs[0]) != INTEGRITY:
            raise RuntimeError(f"{tarballs[0].name} does not match the published integrity")
        if dest.exists():
            shutil.rmtree(dest)
        with tarfile.open(tarballs[0]) as archive:
            for member in archive.getmembers():
                target = wanted(member.name) if member.isfile() else None
                if target is not None:
                    (dest / target).parent.mkdir(parents=True, exist_ok=True)
                    (dest / target).write_bytes(archive.extractfile(member).read())
    (dest / _STAMP).write_text(VERSION + "\n")
    return dest


def _check_vendored(app) -> None:
    from sphinx.errors import ExtensionError

    absent = missing(DEST)
    if absent:
        raise ExtensionError(f"MathJax is not vendored in {DEST} (missing: {', '.join(absent)}); "
                             "run `python -m tools.vendor_mathjax` (part of `make install`)")


def setup(app) -> dict:
    """Sphinx extension: fail the build early when the vendored MathJax is missing."""
    app.connect("builder-inited", _check_vendored)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.vendor_mathjax",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEST, help="target folder")
    args = parser.parse_args(argv)
    try:
        dest = vendor(args.dest)
    except RuntimeError as exc:
        print(f"vendor_mathjax: {exc}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"MathJax {VERSION} in {dest} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
