"""Book configuration, table of contents and bibliography, checked without building the book."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
import yaml
from pybtex.database import parse_file
from sphinx.util.matching import Matcher

import hybridlib

ROOT = Path(__file__).resolve().parents[2]
BIB = ROOT / "book" / "references.bib"
CHAPTERS = ["05_1_design", "05_2_early_fusion", "05_3_late_fusion", "05_4_alignn",
            "05_5_megnet_multitask", "05_6_comparison", "05_7_summary", "05_8_exercises",
            "05_9_pretrained"]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
# Sources the book relies on (models, data sets, software, methods): must stay in the bib.
REQUIRED_KEYS = {
    "xie2018cgcnn", "choudhary2021alignn", "chen2019megnet", "ward2016general",
    "ward2018matminer", "dunn2020matbench", "jain2013materials", "xie2022cdvae",
    "zeni2025mattergen", "kendall2018multi", "bresson2017gated", "vinyals2016order",
    "gilmer2017neural", "fey2019pyg", "ong2013pymatgen", "breiman2001random",
    "wolpert1992stacked", "loshchilov2019adamw", "smith2019superconvergence",
    "castelli2012new", "castelli2012perovskite", "ruder2017overview", "crawshaw2020multi",
    "fung2021benchmarking", "goodall2020roost", "velickovic2018gat", "matbench_leaderboard",
}


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bib_keys() -> set[str]:
    return set(parse_file(str(BIB), bib_format="bibtex").entries.keys())


def _toc_files(toc: dict) -> list[str]:
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def _cited_keys() -> dict[str, set[str]]:
    """Citation keys per source file (chapter .py sources and front-matter pages)."""
    sources = sorted((ROOT / "chapters").glob("*.py")) + sorted((ROOT / "book").glob("*.md"))
    cited = {}
    for path in sources:
        keys = {k.strip() for group in CITE.findall(path.read_text(encoding="utf-8"))
                for k in group.split(",")}
        if keys:
            cited[str(path.relative_to(ROOT))] = keys
    return cited


def _citation_keys_in_hybridlib() -> dict[str, tuple[str, ...]]:
    """``CITATION_KEYS`` of every class defined in every hybridlib module (all imported)."""
    found = {}
    for info in pkgutil.walk_packages(hybridlib.__path__, prefix="hybridlib."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)  # a module that fails to import fails here
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and "CITATION_KEYS" in vars(obj):
                found[f"{module.__name__}.{name}"] = tuple(obj.CITATION_KEYS)
    return found


# --------------------------------------------------------------------------- bibliography


def test_bibliography_parses_with_lowercase_keys_and_a_source_for_each_entry():
    data = parse_file(str(BIB), bib_format="bibtex")
    for key, entry in data.entries.items():
        assert key == key.lower(), key
        assert entry.fields.get("title") and entry.fields.get("year"), key
        assert entry.fields.get("doi") or entry.fields.get("url"), f"{key}: no doi or url"


def test_bibliography_holds_every_source_the_book_relies_on(bib_keys):
    assert REQUIRED_KEYS - bib_keys == set()


def test_leaderboard_entry_records_its_access_date():
    entry = parse_file(str(BIB), bib_format="bibtex").entries["matbench_leaderboard"]
    assert entry.fields["url"].startswith("https://matbench.materialsproject.org")
    assert entry.fields["urldate"] == "2026-11-25"


def test_every_cited_key_is_in_the_bibliography(bib_keys):
    cited = _cited_keys()
    assert cited, "no {cite} found in chapters/*.py or book/*.md"
    missing = {source: sorted(keys - bib_keys) for source, keys in cited.items() if keys - bib_keys}
    assert missing == {}


def test_cite_pattern_reads_roles_and_key_lists():
    text = "{cite}`a2020x` and {cite:p}`b2019y, c2018z` but not `{cite}` alone"
    assert [k.strip() for g in CITE.findall(text) for k in g.split(",")] == \
        ["a2020x", "b2019y", "c2018z"]


def test_every_citation_keys_of_hybridlib_classes_is_in_the_bibliography(bib_keys):
    declared = _citation_keys_in_hybridlib()
    missing = {cls: sorted(set(keys) - bib_keys) for cls, keys in declared.items()
               if set(keys) - bib_keys}
    assert missing == {}
    assert all(isinstance(keys, tuple) and keys for keys in declared.values()), declared


# --------------------------------------------------------------------------- _config.yml


@pytest.fixture(scope="module")
def sphinx_config() -> dict:
    """The Sphinx settings jupyter-book derives from _config.yml: what the build really uses
    (a key in the wrong section of _config.yml is silently ignored there)."""
    from jupyter_book.config import get_final_config

    settings, _ = get_final_config(user_yaml=ROOT / "_config.yml",
                                   cli_config={"latex_individualpages": False},
                                   sourcedir=ROOT, raise_on_invalid=True)
    return settings


def _makefile_option(option: str) -> str:
    """The value of ``--option=VALUE`` on the Makefile's nbval line."""
    match = re.search(rf"--{option}=(\S+)", (ROOT / "Makefile").read_text())
    assert match, f"the Makefile passes no --{option}"
    return match.group(1)


def test_the_build_runs_in_japanese_and_fails_on_a_failing_cell(sphinx_config, config):
    assert sphinx_config["language"] == "ja" and "ハイブリッド" in config["title"]
    assert sphinx_config["nb_execution_mode"] == "cache"
    assert sphinx_config["nb_execution_raise_on_error"] is True
    assert sphinx_config["nb_execution_allow_errors"] is False
    # a cell that CI's nbval run lets finish must not time out in the book build
    assert sphinx_config["nb_execution_timeout"] >= int(_makefile_option("nbval-cell-timeout"))


def test_config_loads_the_extensions_and_the_bibliography(config):
    extensions = config["sphinx"]["extra_extensions"]
    assert "sphinx_exercise" in extensions
    for extension in extensions:
        importlib.import_module(extension)
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert BIB.is_file()


@pytest.mark.parametrize("path", [
    "chapters/05_1_design.py", "_build/html/index.html", ".venv/lib/site.py", "students/x.ipynb",
    ".cache/hybridlib/runs/a.ipynb", "tests/test_book.py", "README.md",
    "hybridlib/plots.py", "chapters/.ipynb_checkpoints/05_1_design-checkpoint.ipynb",
])
def test_config_excludes_paired_py_files_and_non_book_folders(config, path):
    assert config["only_build_toc_files"] is True
    assert _excluded(config, path), path


def test_config_keeps_the_chapters_and_front_matter(config):
    assert not _excluded(config, "chapters/05_1_design.ipynb")
    assert not _excluded(config, "book/intro.md")


def _excluded(config: dict, path: str) -> bool:
    """As Sphinx decides: the file or one of its folders matches an exclude pattern."""
    matcher = Matcher(config["exclude_patterns"])
    parts = Path(path).parts
    return any(matcher("/".join(parts[:i])) for i in range(1, len(parts) + 1))


def test_launch_buttons_open_the_repository_the_setup_cells_install(sphinx_config):
    theme = sphinx_config["html_theme_options"]
    url = theme["repository_url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url)
    assert theme["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert theme["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert theme["use_repository_button"] is True
    pages = [ROOT / "book" / "setup.md"] + [ROOT / "chapters" / f"{c}.py" for c in CHAPTERS]
    installed = {re.search(r'git\+(https://[^"\s`]+)', path.read_text(encoding="utf-8")).group(1)
                 for path in pages}
    assert installed == {url}


# --------------------------------------------------------------------------- _toc.yml


def test_toc_lists_the_front_matter_and_the_chapters_in_order(toc):
    files = _toc_files(toc)
    assert toc["format"] == "jb-book" and files[0] == "book/intro"
    assert [f.removeprefix("chapters/") for f in files if f.startswith("chapters/")] == CHAPTERS
    assert {"book/setup", "book/instructor", "book/execution_times"} <= set(files)


@pytest.mark.parametrize("entry", _toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())))
def test_every_toc_entry_exists(entry):
    candidates = [ROOT / f"{entry}{suffix}" for suffix in (".md", ".ipynb")]
    assert any(p.is_file() for p in candidates), f"{entry}: none of {[p.name for p in candidates]}"


def test_every_chapter_notebook_is_in_the_toc(toc):
    listed = set(_toc_files(toc))
    orphans = [p.name for p in (ROOT / "chapters").glob("*.ipynb")
               if f"chapters/{p.stem}" not in listed]
    assert orphans == []


# --------------------------------------------------------------------------- front matter


def test_instructor_page_and_readme_name_the_same_commands():
    instructor = (ROOT / "book" / "instructor.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    grade = "python -m tools.grade SUBMISSIONS/ --out grades.csv"
    assert grade in instructor and grade in readme
    assert "make students" in instructor and "make students" in readme
    assert re.search(r"^students:", (ROOT / "Makefile").read_text(), flags=re.M)


def test_execution_times_page_uses_the_exec_table():
    assert "```{nb-exec-table}" in (ROOT / "book" / "execution_times.md").read_text()


# --------------------------------------------------------------------------- test setup


def _collected(test_file: Path, *args: str) -> str:
    """pytest's tree of the tests it collects from ``test_file`` under this repository's
    settings (``<Function test_x>`` lines)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider",
               "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(test_file), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300).stdout


def test_slow_tests_are_left_out_by_default_but_run_by_make_test(tmp_path):
    import shlex

    test_file = tmp_path / "test_marks.py"
    test_file.write_text("import pytest\n\n@pytest.mark.slow\ndef test_long():\n    pass\n\n"
                         "def test_short():\n    pass\n")
    recipe = re.search(r"python -m pytest tests (.*)", (ROOT / "Makefile").read_text()).group(1)
    args = shlex.split(recipe)
    for option in ("-n", "--dist"):  # pytest-xdist's workers: collection stays in-process
        if option in args:
            del args[args.index(option):args.index(option) + 2]
    make_args = [arg for arg in args if arg != "-q"]  # keep the tree output
    by_default, by_make = _collected(test_file), _collected(test_file, *make_args)
    assert "<Function test_short>" in by_default and "<Function test_long>" not in by_default
    assert "<Function test_short>" in by_make and "<Function test_long>" in by_make


def test_every_test_runs_under_a_timeout(request):
    assert request.config.pluginmanager.hasplugin("timeout")
    assert 0 < float(request.config.getini("timeout")) <= 3600
