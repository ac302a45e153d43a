"""The runtime's modules import each other without a cycle, and each pulls in only what it needs.

A cold start pays for every module the runtime imports before the handler, and an import
deferred into a function to dodge a cycle is paid again on every call that runs it (a logged
line, an error): so no cycle, not even through a deferred import.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import lambda_rie.runtime

RUNTIME = Path(lambda_rie.runtime.__file__).parent
PACKAGE = "lambda_rie.runtime"

# What importing each module alone loads of the package (besides `lambda_rie` and
# `lambda_rie.runtime`). Optional parts (asyncio's runner, streaming, workers, SnapStart, the
# root logger's format) are imported where they are used, and only then.
LOADS = {
    "errors": set(),
    "sinks": set(),
    "forked": set(),
    "async_loop": set(),
    "logs": {"sinks"},
    "log_format": {"sinks"},
    "handler": {"errors"},
    "streaming": {"errors"},
    "payload": {"_core", "errors"},
    "context": {"logs", "sinks"},
    "reporting": {"errors", "logs", "sinks"},
    "snapstart": {"errors", "logs", "reporting", "sinks"},
    "workers": {"forked", "logs", "sinks"},
    "invoke": {"_core", "context", "errors", "handler", "logs", "payload", "reporting", "sinks"},
    "bootstrap": {
        "_core",
        "context",
        "errors",
        "handler",
        "invoke",
        "logs",
        "payload",
        "reporting",
        "sinks",
    },
    "template": {
        "_core",
        "context",
        "errors",
        "forked",
        "handler",
        "invoke",
        "logs",
        "payload",
        "reporting",
        "sinks",
        "snapstart",
    },
}


def runtime_modules() -> list[str]:
    """Every module of the runtime but `__init__` and `__main__` (which runs the runtime)."""
    return sorted(p.stem for p in RUNTIME.glob("*.py") if not p.stem.startswith("__"))


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"


def sibling_imports(module: str) -> set[str]:
    """The runtime modules `module` imports anywhere (in functions too), type-only ones left out."""
    tree = ast.parse((RUNTIME / f"{module}.py").read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name.split(".")[2])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found - {module}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of `graph` as the path that closes it, or `[]`."""
    state: dict[str, str] = {}
    path: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := walk(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return []


def test_find_cycle_reports_a_deferred_import_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_runtime_modules_import_each_other_without_a_cycle() -> None:
    graph = {module: sibling_imports(module) for module in runtime_modules()}
    assert graph["bootstrap"] >= {"handler", "invoke", "reporting", "workers"}
    assert find_cycle(graph) == []


def test_every_runtime_module_is_listed() -> None:
    assert sorted(LOADS) == runtime_modules()


@pytest.mark.parametrize("module", sorted(LOADS))
def test_importing_a_module_alone_loads_only_what_it_needs(module: str, tmp_path: Path) -> None:
    code = (
        f"import json, sys, {PACKAGE}.{module};"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('lambda_rie.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    loaded = {
        name.removeprefix(PACKAGE + ".").removeprefix("lambda_rie.")
        for name in json.loads(result.stdout)
    } - {"runtime", module}
    assert loaded == LOADS[module]
