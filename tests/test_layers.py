"""The layers of the library import only downward, function-level imports included, and the
module graph has no cycle (CONTRIBUTING.md, "Style", the *Layers* rule, and the README's "Layout":
leaves < kernels < data < model < certificate < polish < solvers < estimators < front ends)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import spectranet

ROOT = Path(spectranet.__file__).parent

#: each module (or package prefix) and its layer; a module may import from its own layer or below
LAYERS = {
    "leaves": ["exceptions", "_blas", "_torch", "_docstrings", "_loss_docstrings", "_method_docstrings", "activations",
               "loss_base", "losses", "weighted", "penalties", "architectures"],
    "kernels": ["kernels"],
    "data": ["data"],
    "model": ["witness", "network", "problem", "reductions"],
    "certificate": ["sphere", "decomposition", "kink_dual", "certificate", "proof"],
    "polish": ["newton", "active_set", "local", "face", "face_data", "face_rotation"],
    "solvers": ["solvers", "cubic"],
    "estimators": ["estimators", "estimators_dask", "path", "formulations", "hardness", "datasets"],
    "front ends": ["baseline", "lr_search", "cli", "experiments", "__init__"],
}
ORDER = {name: i for i, name in enumerate(LAYERS)}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> str:
    head = module.split(".")[0]
    for layer, names in LAYERS.items():
        if head in names:
            return layer
    raise AssertionError(f"module spectranet.{module} has no layer in tests/test_layers.py: add it")


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The library modules an import statement of ``module`` reads (relative and absolute)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.startswith("spectranet.")]
        return [n[len("spectranet."):] for n in names]
    if node.level == 0:
        if not (node.module or "").startswith("spectranet"):
            return []
        base = node.module[len("spectranet"):].lstrip(".")
    else:
        package = [] if module == "__init__" else module.split(".")
        if module != "__init__" and MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        base = ".".join(package + ([node.module] if node.module else []))
    out = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        out.append(candidate if candidate in MODULES else (base or "__init__"))
    return out


def _edges() -> list[tuple[str, str]]:
    edges = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges += [(module, target) for target in _resolve(module, node) if target != module]
    return edges


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("edge", _edges(), ids=lambda e: f"{e[0]}->{e[1]}")
def test_imports_point_down(edge):
    source, target = edge
    assert target in MODULES or target == "__init__", f"{source} imports unknown spectranet.{target}"
    assert ORDER[_layer(target)] <= ORDER[_layer(source)], (
        f"spectranet.{source} ({_layer(source)}) imports spectranet.{target} ({_layer(target)}), a higher layer")


def test_module_graph_is_acyclic():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for source, target in _edges():
        graph[source].add(target)
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
