"""Set the book's repository URL in one go: launch buttons and every chapter's Colab cell.

``python -m tools.set_repository https://github.com/you/hybrid-book`` (``make set-repo URL=...``)
replaces the URL in ``repository: url:`` of ``_config.yml``, in the ``REPOSITORY = "..."``
line of each chapter's Colab setup cell (``.py`` and paired ``.ipynb``) and in the Colab links
(``colab.research.google.com/github/OWNER/NAME/...``) of the chapters and ``book/*.md``.
Introduced in: setup page.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["set_repository", "configured_repository"]

_URL = re.compile(r"^https://[\w.-]+/[\w.-]+/[\w.-]+$")


def configured_repository(root: str | Path = ".") -> str:
    """The URL under ``repository: url:`` in ``_config.yml``."""
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))
    try:
        return config["repository"]["url"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{Path(root) / '_config.yml'} has no `repository: url:` entry") from exc


def set_repository(url: str, root: str | Path = ".") -> list[Path]:
    """Write ``url`` wherever the configured URL appears; return the files changed."""
    url = url.rstrip("/").removesuffix(".git")
    if not _URL.match(url):
        raise ValueError(f"not a repository URL: {url!r} (expected https://host/owner/name)")
    root = Path(root)
    old = configured_repository(root)
    files = [root / "_config.yml", *sorted((root / "book").glob("*.md")),
             *sorted((root / "chapters").glob("*.py")), *sorted((root / "chapters").glob("*.ipynb"))]
    # Colab links name the repository as colab.research.google.com/github/OWNER/NAME/...
    colab = "colab.research.google.com/github/"
    replacements = {old: url, colab + old.split("/", 3)[3]: colab + url.split("/", 3)[3]}
    changed = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        updated = text
        for before, after in replacements.items():
            updated = updated.replace(before, after)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tools.set_repository https://github.com/you/hybrid-book")
    for changed_path in set_repository(sys.argv[1]):
        print("updated", changed_path)
