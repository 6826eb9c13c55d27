"""Set the book's repository URL in one go: launch buttons, Colab cells and Colab links.

``python -m tools.set_repository https://github.com/you/hybrid-book`` (``make set-repo URL=...``)
writes the URL into ``repository: url:`` of ``_config.yml`` (the one place the book reads it
from) and into every copy of it: the install line ``%pip install -q "hybridlib @ git+URL"`` of
the Colab cell and the Colab links (``colab.research.google.com/github/OWNER/NAME/...``) in
``chapters/*.py`` and their ``.ipynb`` pairs, the student copies in ``students/``,
``README.md`` and ``book/*.md``. Copies that drifted from ``_config.yml`` are rewritten too.
Introduced in: setup page.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["set_repository", "configured_repository", "repository_files", "INSTALL_LINE"]

_URL = re.compile(r"^https://[\w.-]+/[\w.-]+/[\w.-]+$")
#: The requirement every Colab cell installs, in a cell or JSON-escaped in an ``.ipynb``.
INSTALL_LINE = re.compile(r'(?P<open>\\?")hybridlib @ git\+(?P<url>[^"\\@#\s]+)(?P<close>\\?")')
_COLAB_LINK = re.compile(r"colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/")


def configured_repository(root: str | Path = ".") -> str:
    """The URL under ``repository: url:`` in ``_config.yml``."""
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))
    try:
        return config["repository"]["url"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{Path(root) / '_config.yml'} has no `repository: url:` entry") from exc


def repository_files(root: str | Path = ".") -> list[Path]:
    """Every file that names the repository: config, README, front matter, chapters, students."""
    root = Path(root)
    return [root / "_config.yml", root / "README.md", *sorted((root / "book").glob("*.md")),
            *sorted((root / "chapters").glob("*.py")), *sorted((root / "chapters").glob("*.ipynb")),
            *sorted((root / "students").glob("*.ipynb"))]


def set_repository(url: str, root: str | Path = ".") -> list[Path]:
    """Write ``url`` wherever the repository is named; return the files changed."""
    url = url.rstrip("/").removesuffix(".git")
    if not _URL.match(url):
        raise ValueError(f"not a repository URL: {url!r} (expected https://host/owner/name)")
    root = Path(root)
    old = configured_repository(root)
    owner_name = url.split("/", 3)[3]
    changed = []
    for path in filter(Path.is_file, repository_files(root)):
        text = path.read_text(encoding="utf-8")
        updated = text.replace(old, url)
        updated = INSTALL_LINE.sub(
            lambda m: f"{m['open']}hybridlib @ git+{url}{m['close']}", updated)
        updated = _COLAB_LINK.sub(f"colab.research.google.com/github/{owner_name}/", updated)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tools.set_repository https://github.com/you/hybrid-book")
    for changed_path in set_repository(sys.argv[1]):
        print("updated", changed_path)
