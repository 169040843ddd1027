"""Imports point one way: models/ knows nothing of the UI, viz/ nothing of Streamlit, ui/
nothing of the pages, and no page imports another.

The same rules as the project's layer checker, kept here so the test suite needs nothing
outside this repository.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN: dict[str, frozenset[str]] = {
    "models": frozenset({"streamlit", "plotly", "viz", "pages", "ui", "app"}),
    "viz": frozenset({"streamlit", "pages", "ui", "app"}),
    "ui": frozenset({"pages", "app"}),
    "pages": frozenset({"pages", "app"}),  # pages are scripts: what two share lives in ui/
}


def imported_roots(tree: ast.Module, package: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    """(line, top-level name) for every import in `tree`, relative ones resolved from `package`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            yield from _from_import_roots(node, package)


def _from_import_roots(node: ast.ImportFrom, package: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    if node.level == 0:
        yield node.lineno, (node.module or "").split(".")[0]
        return
    base = package[: len(package) - (node.level - 1)] if node.level <= len(package) else ()
    parts = [*base, *(node.module.split(".") if node.module else [])]
    if parts:
        yield node.lineno, parts[0]
    else:  # `from .. import ui` at the top of the tree imports each name as a module
        for alias in node.names:
            yield node.lineno, alias.name


def layer_violations(root: Path) -> list[str]:
    """Every import under `root` that crosses a layer boundary the wrong way."""
    problems = []
    for layer, banned in FORBIDDEN.items():
        for path in sorted((root / layer).rglob("*.py")):
            rel = path.relative_to(root)
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except SyntaxError as err:
                problems.append(f"{rel}: does not parse: {err}")
                continue
            for line, name in imported_roots(tree, rel.parent.parts):
                if name in banned:
                    problems.append(f"{rel}:{line}: {layer}/ imports {name}")
    return problems


def test_models_viz_ui_and_pages_import_only_what_their_layer_allows():
    assert layer_violations(ROOT) == []


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_the_layers_being_checked_exist(layer):
    assert any((ROOT / layer).rglob("*.py")), f"{layer}/ has no Python files to check"


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


@pytest.mark.parametrize(
    ("relative", "source", "line", "name"),
    [
        ("models/training/engine.py", "import streamlit as st\n", 1, "streamlit"),
        ("models/a.py", "\nfrom plotly import graph_objects\n", 2, "plotly"),
        ("models/deep/b.py", "from ui.state import current_model\n", 1, "ui"),
        ("models/c.py", "def f():\n    import viz.theme\n", 2, "viz"),
        ("models/d.py", "from .. import pages\n", 1, "pages"),
        ("models/sub/e.py", "from ...ui import frame\n", 1, "ui"),
        ("viz/f.py", "import streamlit.components.v1\n", 1, "streamlit"),
        ("viz/g.py", "from app import main\n", 1, "app"),
        ("ui/h.py", "from pages import build\n", 1, "pages"),
        ("ui/panels/i.py", "import app\n", 1, "app"),
        ("pages/train.py", "from pages.build import restructure\n", 1, "pages"),
        ("pages/j.py", "from . import build\n", 1, "pages"),
    ],
)
def test_checker_reports_an_import_that_crosses_a_layer(tmp_path, relative, source, line, name):
    write(tmp_path, relative, source)
    layer = relative.split("/")[0]
    assert layer_violations(tmp_path) == [f"{relative}:{line}: {layer}/ imports {name}"]


def test_checker_accepts_imports_that_point_down(tmp_path):
    write(tmp_path, "models/a.py", "import torch\nfrom .spec import NetworkSpec\n")
    write(tmp_path, "viz/b.py", "import plotly.graph_objects as go\nfrom models.x.spec import X\n")
    write(tmp_path, "viz/c.py", "from . import theme\n")
    write(tmp_path, "ui/panels/d.py", "import streamlit as st\nfrom ui.results import forget\n")
    write(tmp_path, "pages/e.py", "from ui import frame\nfrom ui.panels import e\nimport viz\n")
    assert layer_violations(tmp_path) == []


def test_checker_reports_a_file_that_does_not_parse(tmp_path):
    write(tmp_path, "viz/broken.py", "def (:\n")
    [problem] = layer_violations(tmp_path)
    assert problem.startswith("viz/broken.py: does not parse")
