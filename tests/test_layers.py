"""The import contract of the package layers (docs/architecture.md §8).

Top-level packages form layers, foundation first::

    hw → tiles → interconnect → memory → compiler → tb → fpga → scripts

A module may import its own package and the packages *before* it, never one after it, so the graph
of packages has no cycle and ``hw`` imports no other package of the project. Imports inside
functions count the same as module-level ones. A function-level import is allowed only to defer an
optional third-party dependency, with a ``deferred:`` comment on the line above it saying why.
Nothing shipped imports ``tests``. ``configs`` is data (the presets, read through
``importlib.resources`` by :func:`hw.params.configs_dir`), outside the layers: it holds no code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The layers, foundation first.
LAYERS = ("hw", "tiles", "interconnect", "memory", "compiler", "tb", "fpga", "scripts")
PROJECT = set(LAYERS) | {"configs", "tests"}


def _modules():
    for pkg in LAYERS:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield pkg, path


def _imports(path):
    """(imported top-level package or None for relative, line, inside a function) per import."""
    tree = ast.parse(path.read_text(), str(path))
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    in_func = {id(n) for f in funcs for n in ast.walk(f)
               if isinstance(n, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno, id(node) in in_func
        elif isinstance(node, ast.ImportFrom):
            top = None if node.level else node.module.split(".")[0]
            yield top, node.lineno, id(node) in in_func


def test_every_package_is_a_layer():
    found = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert found - {"tests", "configs"} == set(LAYERS)


def test_configs_is_data():
    code = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.py"))
    assert code == ["configs/__init__.py"]
    assert not [n for n in ast.parse((ROOT / "configs" / "__init__.py").read_text()).body
                if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]


def test_imports_run_one_way():
    upward = []
    for pkg, path in _modules():
        rank = LAYERS.index(pkg)
        for top, line, _ in _imports(path):
            if top in LAYERS and LAYERS.index(top) > rank:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {pkg} imports {top}")
            if top == "tests":
                upward.append(f"{path.relative_to(ROOT)}:{line}: shipped code imports tests")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_hw_is_the_foundation():
    other = [f"{path.relative_to(ROOT)}:{line}: imports {top}"
             for pkg, path in _modules() if pkg == "hw"
             for top, line, _ in _imports(path) if top in PROJECT and top != "hw"]
    assert not other


def test_function_level_imports_only_defer_optional_dependencies():
    bad = []
    for _, path in _modules():
        lines = path.read_text().splitlines()
        for top, line, in_func in _imports(path):
            if not in_func:
                continue
            if top is None or top in PROJECT:
                bad.append(f"{path.relative_to(ROOT)}:{line}: function-level project import")
            elif "deferred:" not in lines[line - 2]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: function-level import of {top} "
                           f"without a 'deferred:' comment above it")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("source, expected", [
    ("import tb.runner\n", [("tb", 1, False)]),
    ("def f():\n    from . import x\n", [(None, 2, True)]),
    ("async def f():\n    from hw.numerics import f32\n", [("hw", 2, True)]),
])
def test_the_contract_sees_every_import(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert list(_imports(path)) == expected
