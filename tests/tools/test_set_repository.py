"""make set-repo: one URL drives launch buttons and every Colab setup cell."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.set_repository import configured_repository, set_repository

ROOT = Path(__file__).resolve().parents[2]


def test_set_repository_rewrites_config_and_chapters(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters",
                    ignore=shutil.ignore_patterns("checks", "__pycache__"))
    old = configured_repository(tmp_path)
    changed = set_repository("https://github.com/lab/hybrid-book.git", tmp_path)
    assert configured_repository(tmp_path) == "https://github.com/lab/hybrid-book"
    assert tmp_path / "_config.yml" in changed
    for path in (tmp_path / "chapters").glob("05_*.*"):
        text = path.read_text()
        assert old not in text and "github/OWNER/" not in text
        assert "https://github.com/lab/hybrid-book" in text, path.name
    exercises = (tmp_path / "chapters" / "05_8_exercises.py").read_text()
    assert "colab.research.google.com/github/lab/hybrid-book/blob/main/students/" in exercises


def test_set_repository_rejects_non_urls(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "chapters").mkdir()
    with pytest.raises(ValueError, match="not a repository URL"):
        set_repository("my repo", tmp_path)
