"""Packaging: the install lists agree, the Colab cell installs only the package from the one
repository URL, and the Makefile runs the Colab-path check and keeps committed files."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_name(r): r.replace(" ", "") for r in reqs}


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {_name(r): r.replace(" ", "") for r in pip}


def test_environment_yml_names_the_same_packages_as_pyproject():
    assert set(_environment_requirements()) == set(_pyproject_requirements())


def test_environment_yml_uses_the_same_version_bounds():
    env, pyproject = _environment_requirements(), _pyproject_requirements()
    assert {k: env[k] for k in env} == {k: pyproject[k] for k in env}


def test_jupyter_book_is_pinned_to_1x_and_matbench_is_not_a_dependency():
    reqs = _pyproject_requirements()
    assert reqs["jupyter-book"].startswith("jupyter-book==1.")
    assert "matbench" not in reqs  # installed with --no-deps: see pyproject comment
    assert "matbench==0.6" in (ROOT / "Makefile").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert ci == ["make test"]
    assert "make test" in readme and "make book" in readme


# --------------------------------------------------------------------------- Colab path

NOTEBOOKS = sorted((ROOT / "chapters").glob("05_*.ipynb")) + sorted((ROOT / "students").glob("*.ipynb"))


def _config_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def _colab_cell(url: str) -> str:
    return ('import sys\nif "google.colab" in sys.modules:\n'
            f'    %pip install -q "hybridlib @ git+{url}"')


def _first_code_cell(path: Path) -> str:
    import nbformat

    return next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_notebook_starts_with_the_same_three_line_colab_cell(path):
    cell = _first_code_cell(path)
    assert cell == _colab_cell(_config_url()), f"{path.name}: run `make set-repo URL=...`"
    assert len(cell.splitlines()) <= 3


def test_setup_page_shows_the_same_colab_cell():
    text = (ROOT / "book" / "setup.md").read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
              if "google.colab" in b]
    assert blocks == [_colab_cell(_config_url())]


class _RecordingShell:
    def __init__(self):
        self.magics: list[tuple[str, str]] = []

    def run_line_magic(self, name: str, line: str) -> None:
        self.magics.append((name, line))


def _run_colab_cell(monkeypatch, on_colab: bool) -> list[tuple[str, str]]:
    """Run the cell as IPython would; return the line magics it called."""
    import sys
    import types

    from IPython.core.inputtransformer2 import TransformerManager

    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    shell = _RecordingShell()
    code = TransformerManager().transform_cell(_first_code_cell(NOTEBOOKS[0]))
    exec(compile(code, "colab-cell", "exec"), {"get_ipython": lambda: shell})  # noqa: S102
    return shell.magics


def test_colab_cell_does_nothing_outside_colab(monkeypatch):
    assert _run_colab_cell(monkeypatch, on_colab=False) == []


def test_colab_cell_on_colab_pip_installs_only_the_package_from_the_configured_url(monkeypatch):
    magics = _run_colab_cell(monkeypatch, on_colab=True)
    assert magics == [("pip", f'install -q "hybridlib @ git+{_config_url()}"')]
    # nothing but the package: no constraint file, no matbench, no torch pin
    assert not re.search(r"-c |--constraint|matbench|torch", magics[0][1])


def test_runtime_requirements_have_lower_bounds_only_so_colab_keeps_its_torch():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    names = {r.name for r in requirements}
    assert {"torch", "torch-geometric", "pymatgen", "matminer"} <= names
    assert "matbench" not in names
    for requirement in requirements:
        operators = {spec.operator for spec in requirement.specifier}
        assert operators <= {">="}, f"{requirement}: only lower bounds, or pip may replace " \
                                    "a package Colab preinstalled"


# --------------------------------------------------------------------------- Makefile

def _recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_make_test_runs_the_colab_path_check():
    side_by_side = _recipe("test")[-1]
    assert "-j 2" in side_by_side and "check-ci" in side_by_side
    assert "exercises-nbval-then-colab" in side_by_side
    assert "$(MAKE) --no-print-directory colab-check" in _recipe("exercises-nbval-then-colab")
    assert _recipe("colab-check") == ["$(BIN)/python -m tools.colab_check"]


def test_make_book_renders_the_book_profile():
    assert any("HYBRIDLIB_PROFILE=$${HYBRIDLIB_PROFILE:-book}" in line for line in _recipe("book"))


def test_make_clean_removes_no_committed_file():
    import shlex
    import subprocess

    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    removed = [word for line in _recipe("clean") for word in shlex.split(line)[2:]
               if line.startswith("rm -rf")]
    assert removed, "clean removes nothing?"
    tracked = subprocess.run(["git", "ls-files", "--", *removed], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked == [], f"make clean would delete committed files: {tracked[:5]}"
