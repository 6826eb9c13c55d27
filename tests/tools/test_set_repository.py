"""make set-repo: one URL drives launch buttons, every Colab cell and the student copy."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import jupytext
import pytest

from tools.grading import write_student_copies
from tools.set_repository import INSTALL_LINE, configured_repository, set_repository

ROOT = Path(__file__).resolve().parents[2]
NEW = "https://github.com/lab/hybrid-book"


@pytest.fixture()
def repo_copy(tmp_path) -> Path:
    """The files set-repo rewrites, copied as they are committed."""
    for name in ("_config.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("book", "chapters", "students"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return tmp_path


def _install_urls(path: Path) -> list[str]:
    """Repository URLs the notebook's Colab cell installs from."""
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    return [m["url"] for c in cells for m in INSTALL_LINE.finditer(c)]


def test_set_repository_rewrites_config_chapters_and_student_copy(repo_copy):
    old = configured_repository(repo_copy)
    changed = set_repository(NEW + ".git", repo_copy)
    assert configured_repository(repo_copy) == NEW
    student = repo_copy / "students" / "05_8_exercises.ipynb"
    assert {repo_copy / "_config.yml", student} <= set(changed)
    notebooks = [*(repo_copy / "chapters").glob("05_*.*"), student]
    for path in notebooks:
        assert _install_urls(path) == [NEW], path.name
        text = path.read_text(encoding="utf-8")
        assert old not in text and "github/OWNER/" not in text, path.name
    exercises = (repo_copy / "chapters" / "05_8_exercises.py").read_text(encoding="utf-8")
    assert "colab.research.google.com/github/lab/hybrid-book/blob/main/students/" in exercises
    for page in (repo_copy / "README.md", repo_copy / "book" / "setup.md"):
        assert f"git+{NEW}" in page.read_text(encoding="utf-8") and old not in page.read_text()
    assert set_repository(NEW, repo_copy) == []  # a second run changes nothing


def test_rewritten_student_copy_equals_a_fresh_one(repo_copy):
    set_repository(NEW, repo_copy)
    chapter = repo_copy / "chapters" / "05_8_exercises.ipynb"
    assert write_student_copies([chapter], repo_copy / "students", check=True) == []


def test_chapter_pairs_stay_in_sync_after_the_rewrite(repo_copy):
    set_repository(NEW, repo_copy)
    for py in (repo_copy / "chapters").glob("05_*.py"):
        sources = [[c.source for c in jupytext.read(p).cells] for p in (py, py.with_suffix(".ipynb"))]
        assert sources[0] == sources[1], py.name


def test_copies_that_drifted_from_the_config_are_rewritten_too(repo_copy):
    chapter = repo_copy / "chapters" / "05_2_early_fusion.py"
    text = chapter.read_text(encoding="utf-8")
    chapter.write_text(INSTALL_LINE.sub('"hybridlib @ git+https://github.com/stale/fork"', text),
                       encoding="utf-8")
    set_repository(NEW, repo_copy)
    assert _install_urls(chapter) == [NEW]


def test_set_repository_rejects_non_urls(repo_copy):
    with pytest.raises(ValueError, match="not a repository URL"):
        set_repository("my repo", repo_copy)
    with pytest.raises(ValueError, match="not a repository URL"):
        set_repository("git@github.com:lab/hybrid-book.git", repo_copy)


def test_instructor_guide_gives_the_order_set_url_regenerate_commit_hand_out():
    guide = (ROOT / "book" / "instructor.md").read_text(encoding="utf-8")
    steps = ["make set-repo URL=", "make students", "git commit", "git push",
             "colab.research.google.com/github/"]
    positions = [guide.find(step) for step in steps]
    assert all(p >= 0 for p in positions), dict(zip(steps, positions))
    assert positions == sorted(positions), dict(zip(steps, positions))
    assert re.search(r"^set-repo:", (ROOT / "Makefile").read_text(), flags=re.M)
