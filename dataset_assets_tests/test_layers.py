"""Every import in the package, function-local ones included, goes down the layers README.md names, and none closes a cycle.

Layers, lowest first: the format library, recipes, the catalog of named artifacts, the Dagster
integration, the demo code location with its commands. The package's `__init__` is the facade of
the first three and may import from each of them, never from the two above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dataset_assets

PACKAGE = Path(dataset_assets.__file__).parent
LAYERS = {  # first part below dataset_assets -> layer; anything else is the format library (0)
    "recipes": 1,
    "home": 2, "pipelines": 2, "catalog": 2,
    "dagster": 3,
    "defs": 4, "definitions": 4, "demo": 4, "cli": 4,
}
FACADE_TOP = 2  # dataset_assets/__init__.py: re-exports up to the catalog


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("dataset_assets",) + path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imported(module: str, path: Path) -> set[str]:
    """The package's modules that `module` imports anywhere in its body (a name imported from a package counts as the package)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            submodules = {f"{target}.{alias.name}" for alias in node.names} & MODULES.keys()
            names.update(submodules)  # `from . import x` or `from .pkg import x`, where x is a module
            if node.module or len(submodules) < len(node.names):
                names.add(target)
    found = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else FACADE_TOP


GRAPH = {m: imported(m, p) for m, p in MODULES.items()}


def test_the_package_has_every_layer_the_readme_names():
    assert {layer(m) for m in MODULES} == {0, 1, 2, 3, 4}
    assert all(f"dataset_assets.{name}" in MODULES for name in LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    upward = sorted(t for t in GRAPH[module] if layer(t) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports {upward} from a layer above it"


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(module, stack):
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_a_function_local_upward_import(tmp_path):
    # The rule is only as good as the parser: a local import inside a function must count.
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from ..home import artifact_path\n    return artifact_path\n")
    assert "dataset_assets.home" in imported("dataset_assets.recipes.probe", source)
