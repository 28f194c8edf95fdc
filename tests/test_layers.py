"""The packages are the architecture: imports point one way, no two modules import each other, and
library code never calls a command.

Every ``import`` counts, those inside functions included (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The layers, lowest first: a package may import its own layer's modules and lower layers only.
LAYERS = {"loaders": 0, "kg": 1, "audio": 2, "gnn": 2, "recsys": 3, "soundbridge": 4}
#: Where the commands live, and the only modules that may import them.
COMMANDS = "soundbridge.commands"
ENTRY_POINTS = ("soundbridge.cli", COMMANDS)


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((REPO / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    # A module reaching its siblings through its package (`from kg import queries`) does not
    # depend on the package's __init__ in any way that matters here.
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return {m for m in out if m in known and m != name and m not in ancestors}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_the_import_scan_sees_lazy_imports() -> None:
    graph = _graph()
    assert "recsys.pipeline" in graph["soundbridge.build"]  # imported inside a function


def test_no_two_modules_import_each_other() -> None:
    graph = _graph()
    pairs = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph[b]})
    assert pairs == []


def test_imports_point_down_the_layers() -> None:
    graph = _graph()
    upward = [
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if (top_a := a.split(".")[0]) != (top_b := b.split(".")[0])
        and LAYERS[top_b] >= LAYERS[top_a]
    ]
    assert upward == []


def test_library_code_never_calls_a_command() -> None:
    graph = _graph()
    callers = [
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if b.startswith(COMMANDS) and not a.startswith(ENTRY_POINTS)
    ]
    assert callers == []
