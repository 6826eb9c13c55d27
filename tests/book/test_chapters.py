"""Chapter notebooks: paired, shaped like the book's chapters, free of typed metrics."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("05_*.py"))
SECTIONS = sorted(p for p in CHAPTERS if p.stem != "05_8_exercises")
SEED_METRICS = ("0.0265", "0.0272", "0.0278", "0.0286", "0.0292", "0.0325", "0.9614", "0.9582",
                "0.9524", "0.9321", "0.9548", "0.9680", "0.9510")


def _cells(path: Path):
    return jupytext.read(path).cells


def test_the_tests_cover_every_chapter_of_the_toc():
    """Each test below runs once per chapter file: they must be exactly the book's chapters,
    so no test passes by running over an empty or partial list."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = re.findall(r"chapters/(05_\w+)", yaml.safe_dump(toc))
    assert len(listed) == 9 and [p.stem for p in CHAPTERS] == listed
    assert "05_8_exercises" not in [p.stem for p in SECTIONS] and len(SECTIONS) == 8


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_py_and_ipynb_pairs_hold_the_same_cells(path):
    notebook = path.with_suffix(".ipynb")
    assert notebook.is_file(), f"{notebook.name} missing: run `jupytext --sync {path}`"
    py_cells, nb_cells = _cells(path), _cells(notebook)
    assert [c.cell_type for c in py_cells] == [c.cell_type for c in nb_cells]
    assert [c.source for c in py_cells] == [c.source for c in nb_cells], \
        f"{path.name} and {notebook.name} differ: run `jupytext --sync {path}`"


@pytest.mark.parametrize("path", SECTIONS, ids=lambda p: p.stem)
def test_chapter_shape(path):
    text = "\n".join(c.source for c in _cells(path) if c.cell_type == "markdown")
    order = ["対象読者と学習目標", "## まとめ", "## 演習", "## 参考文献", "{bibliography}"]
    positions = [text.find(marker) for marker in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions))
    assert positions == sorted(positions)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_seed_metric_typed_in_prose(path):
    for cell in _cells(path):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if any(m in line for m in SEED_METRICS):
                assert re.search("元の教材|原文|誤", line), f"typed seed metric: {line}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_cells_stay_short(path):
    for cell in _cells(path):
        if cell.cell_type == "code":
            assert cell.source.count("\n") < 30, cell.source[:200]
