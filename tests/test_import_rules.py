"""Import rules of the package, read from the source (every import statement counts:
module level, function-local and type-only alike, since each one is a dependency).

* no cycle between modules;
* ``core`` imports nothing from drivers, faces (protocols, screens, notify), the app,
  the controller or the command line;
* drivers import only from ``core`` (its vocabulary: model, quantities, errors, faults, firmware_image);
* screens import neither protocols nor the controller.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "enerteg_tui"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(module: str, is_pkg: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _imports() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = (_resolve(mod, is_pkg, node.level, node.module) if node.level
                        else node.module or "")
                # "from . import x" may name a submodule
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            for t in targets:
                while t and t not in mods and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != mod and t.startswith(PACKAGE):
                    graph[mod].add(t)
    return graph


GRAPH = _imports()


def _layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read() -> None:
    assert len(GRAPH) > 100
    assert "enerteg_tui.core.quantities" in GRAPH["enerteg_tui.core.model"]


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


FORBIDDEN: dict[str, set[str]] = {
    "core": {"drivers", "protocols", "screens", "notify", "app", "controller", "cli",
             "local_console", "usercli", "logfile"},
    "drivers": {"protocols", "screens", "notify", "app", "controller", "cli", "local_console",
                "usercli"},
    "screens": {"protocols", "controller", "cli", "local_console", "usercli"},
    "notify": {"protocols", "screens", "app", "controller", "cli", "local_console"},
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer: str) -> None:
    bad = sorted(f"{m} -> {t}" for m, ts in GRAPH.items() if _layer(m) == layer
                 for t in ts if _layer(t) in FORBIDDEN[layer])
    assert bad == []


def test_drivers_use_only_the_core_vocabulary() -> None:
    allowed = {"enerteg_tui.core.model", "enerteg_tui.core.quantities",
               "enerteg_tui.core.errors", "enerteg_tui.core.faults",
               "enerteg_tui.core.firmware_image"}
    bad = sorted(f"{m} -> {t}" for m, ts in GRAPH.items() if _layer(m) == "drivers"
                 for t in ts if _layer(t) == "core" and t not in allowed)
    assert bad == []
