"""The package layering of ``src/leyden``, checked from the source so it cannot drift.

Read with the README's "Architecture" section: the model, the Go kernel and the clock are
leaves; the language (``tick``) knows nothing of the runtime; the engine publishes alerts
through a protocol of its own and knows nothing of the doors (server, CLI), the stores, the
delivery code or the alert service; top-level packages import each other without loops; and
an import inside a function is rare and says why on its line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "leyden"

#: the leaves, and the only packages of Leyden's each may import
LEAVES: dict[str, frozenset[str]] = {
    "go": frozenset(),
    "clock": frozenset(),
    "tls": frozenset(),
    "model": frozenset({"go"}),
}

#: what each package may never import, even for type checking only
FORBIDDEN: dict[str, frozenset[str]] = {
    "tick": frozenset(
        {"engine", "alerting", "notify", "delivery", "store", "server", "tasks", "runtime", "cli"}
    ),
    "engine": frozenset(
        {"alerting", "notify", "delivery", "store", "server", "tasks", "runtime", "cli", "replay"}
    ),
    "notify": frozenset({"alerting", "engine", "server", "tasks", "runtime", "cli", "store"}),
    "delivery": frozenset({"alerting", "engine", "server", "tasks", "runtime", "cli"}),
    "config": frozenset(
        {"alerting", "engine", "notify", "server", "tasks", "runtime", "cli", "store"}
    ),
    "store": frozenset({"alerting", "engine", "notify", "server", "tasks", "runtime", "cli"}),
    "tasks": frozenset({"server", "cli", "runtime"}),
    "influxdb": frozenset(
        {"alerting", "notify", "delivery", "store", "server", "tasks", "runtime", "cli"}
    ),
    "alerting": frozenset({"engine", "server", "tasks", "runtime", "cli", "store"}),
    "server": frozenset({"cli", "devtools"}),
}

#: imports of Leyden's own modules inside functions, in the whole package
MAX_LOCAL_IMPORTS = 3


def _unit(module: str) -> str:
    """``leyden.engine.nodes.alert`` → ``engine``; a top-level module is its own unit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, path: Path) -> Iterator[tuple[str, ast.stmt, bool]]:
    """(imported leyden module, statement, inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, ast.stmt, bool]]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "leyden":
                        yield alias.name, child, in_function
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(module, path, child)
                if target.split(".")[0] == "leyden":
                    # ``from pkg import name``: the name may be a module; callers trim it
                    for alias in child.names:
                        yield f"{target}.{alias.name}", child, in_function
            yield from walk(child, nested)

    yield from walk(tree, False)


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in _modules():
        source = _unit(module)
        for target, _, _ in _imports(module, path):
            unit = _unit(target)
            if unit != source and ((SRC / unit).is_dir() or (SRC / f"{unit}.py").exists()):
                edges.setdefault(source, set()).add(unit)
    return edges


def _loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return loops


def test_no_import_loops_between_top_level_packages() -> None:
    assert _loops(_graph()) == [], "packages importing each other in a loop"


def test_no_import_loops_between_modules() -> None:
    """Module level too (type-checking imports included): the loops the review found inside
    ``server/`` (app and its routes) and the CLI (cli and cli_tasks) must not come back."""
    modules = dict(_modules())
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        for target, _, in_function in _imports(module, path):
            while target and target not in modules:  # ``from pkg.mod import name``
                target = target.rpartition(".")[0]
            if target and target != module and not in_function:
                edges.setdefault(module, set()).add(target)
    assert _loops(edges) == []


def _imports_of(package: str) -> Iterator[tuple[str, str]]:
    for module, path in _modules():
        if _unit(module) == package:
            for target, _, _ in _imports(module, path):
                if _unit(target) != package:
                    yield module, target


@pytest.mark.parametrize("package", sorted(LEAVES))
def test_leaves_import_only_what_they_may(package: str) -> None:
    allowed = LEAVES[package]
    bad = [f"{m} imports {t}" for m, t in _imports_of(package) if _unit(t) not in allowed]
    assert bad == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layering(package: str) -> None:
    forbidden = FORBIDDEN[package]
    bad = [f"{m} imports {t}" for m, t in _imports_of(package) if _unit(t) in forbidden]
    assert bad == []


def test_imports_inside_functions_are_few_and_say_why() -> None:
    local = []
    for module, path in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for target, stmt, in_function in _imports(module, path):
            if in_function:
                here = lines[stmt.lineno - 1]
                above = lines[stmt.lineno - 2] if stmt.lineno > 1 else ""
                reason = "#" in here or above.strip().startswith("#")
                local.append((f"{module}:{stmt.lineno} imports {target}", reason))
    unexplained = [where for where, reason in local if not reason]
    assert unexplained == [], "imports inside functions without a reason on or above the line"
    assert len(local) <= MAX_LOCAL_IMPORTS, [where for where, _ in local]
