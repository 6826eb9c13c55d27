"""The install lists agree: environment.yml installs what pyproject.toml declares."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

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
