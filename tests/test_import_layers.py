"""The package's layers, read from its imports; the book's build version ignores the tools."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from hybridlib import results

PACKAGE = Path(results.__file__).resolve().parent
ROOT = PACKAGE.parent
#: Bottom to top: a module may import its own layer and the layers below it, never above.
LAYERS = ("constants", "config", "cache", "data", "features", "graphs", "models", "train",
          "weights", "results", "experiments", "report", "predict")
#: What only the course's tools and the tests may import (the ``tools``/``test`` extras).
OUTSIDE = ("tools", "tests", "pytest", "nbval", "nbformat", "nbclient")


def _modules() -> dict[str, Path]:
    """Dotted name (relative to ``hybridlib``; ``""`` for the package itself) -> file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    """Absolute names of everything ``module`` imports, anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base_parts = ["hybridlib", *package.split(".")] if package else ["hybridlib"]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base_parts[: len(base_parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base == "hybridlib" or (node.level and not node.module):  # the modules x
                names |= {f"{base}.{alias.name}" for alias in node.names}
            else:
                names.add(base)
    return names


def _layer(name: str) -> int:
    """Position of a ``hybridlib`` name's layer; the package itself is above every layer."""
    parts = name.split(".")
    if len(parts) == 1:
        return len(LAYERS)
    assert parts[1] in LAYERS, f"hybridlib.{parts[1]} is in no layer: add it to LAYERS"
    return LAYERS.index(parts[1])


def _violations(module: str, path: Path) -> list[str]:
    own = _layer(f"hybridlib.{module}" if module else "hybridlib")
    wrong = []
    for name in sorted(_imports(module, path)):
        if name.split(".")[0] in OUTSIDE:
            wrong.append(f"hybridlib.{module} imports {name} (outside the library)")
        elif name.split(".")[0] == "hybridlib" and _layer(name) > own:
            wrong.append(f"hybridlib.{module} ({LAYERS[own]}) imports {name} (a higher layer)")
    return wrong


def test_every_module_imports_only_its_own_layer_and_those_below():
    modules = _modules()
    assert {"cache", "data.splits", "graphs.neighbors", "models.layers", "train",
            "experiments", "report.plots"} <= set(modules)
    violations = [v for module, path in modules.items() if module
                  for v in _violations(module, path)]
    assert violations == []


def test_the_layer_check_sees_upward_imports_even_inside_functions(tmp_path):
    source = tmp_path / "neighbors.py"
    source.write_text("import numpy\n\ndef f():\n    from ..models import cgcnn\n"
                      "    from .. import train\n    import tools.grading\n")
    assert _violations("graphs.neighbors", source) == [
        "hybridlib.graphs.neighbors (graphs) imports hybridlib.models (a higher layer)",
        "hybridlib.graphs.neighbors (graphs) imports hybridlib.train (a higher layer)",
        "hybridlib.graphs.neighbors imports tools.grading (outside the library)",
    ]
    source.write_text("from ..data import cache_dir\nfrom . import crystal\n"
                      "from hybridlib import cache\n")
    assert _violations("graphs.neighbors", source) == []


@pytest.fixture()
def checkout_copy(tmp_path, monkeypatch):
    """A copy of the package and the tools; ``hybridlib.results`` hashes the copy."""
    ignore = shutil.ignore_patterns("__pycache__", "files")
    shutil.copytree(PACKAGE, tmp_path / "hybridlib", ignore=ignore)
    shutil.copytree(ROOT / "tools", tmp_path / "tools", ignore=ignore)
    monkeypatch.setattr(results, "PACKAGE_DIR", tmp_path / "hybridlib")
    return tmp_path


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_editing_a_tool_leaves_the_build_version_and_every_run_key_alone(checkout_copy):
    before = results.build_version("ci")
    sources = results.source_modules("hybridlib.experiments.fusion")
    code_before = results.code_version(sources)
    for tool in ("grading/__init__.py", "bench/__init__.py", "browser_check/__init__.py"):
        _append(checkout_copy / "tools" / tool, "\n# edited by a test\n")
    assert results.build_version("ci") == before
    assert results.code_version(sources) == code_before
    _append(checkout_copy / "hybridlib" / "train" / "loop.py", "\n# edited by a test\n")
    assert results.build_version("ci") != before
    assert results.code_version(sources) != code_before  # experiments depend on train
