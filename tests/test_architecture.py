"""The import graph of aion and its CLI: layers point down, and no package has a circle.

Every module under ``aion/`` and ``cli/`` is parsed with `ast` (nothing is
imported), and every import in it counts, including those under
``if TYPE_CHECKING:``: a circle that only the type checker sees still ties
the modules' meanings together. A package's ``__init__`` is its face (it
re-exports), so imports of a package are read as imports of that package's
``__init__`` and are left out of circles within it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("aion", "cli")
#: Circles tolerated: none (the CLI's app/backend/endpoint/loader circle is gone).
KNOWN_CIRCLES: frozenset[frozenset[str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` imports (``from pkg import mod`` too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _package(name: str, modules: dict[str, set[str]]) -> str:
    """The package a module lives in (a package's ``__init__`` lives in itself)."""
    if any(other.startswith(name + ".") for other in modules):
        return name
    return name.rpartition(".")[0]


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected groups of two or more modules within one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def edges(name: str) -> list[str]:
        home = _package(name, graph)
        return [
            t
            for t in sorted(graph[name])
            # a package's face re-exports: importing it is not a tie inside the package
            if _package(t, graph) == home and t != home and name != home
        ]

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in edges(name):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == name:
                    break
            if len(group) > 1:
                found.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "aion._engine._runtime" in graph["aion._engine._engine"]
    assert "aion._interpreter._core" in graph["aion._interpreter"]
    assert "aion" in graph["cli.app"]


def test_no_package_has_an_import_circle() -> None:
    circles = [c for c in _circles(_graph()) if frozenset(c) not in KNOWN_CIRCLES]
    assert circles == [], f"modules that import each other in a loop: {circles}"


def test_a_circle_is_found_when_there_is_one() -> None:
    graph = {"p": set(), "p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert _circles(graph) == [{"p.a", "p.b", "p.c"}]


def test_the_interpreter_knows_neither_engine_nor_store() -> None:
    graph = _graph()
    for name, targets in graph.items():
        if name == "aion._interpreter" or name.startswith("aion._interpreter."):
            upward = {
                t
                for t in targets
                if t.startswith(("aion._engine", "aion.store", "aion.testing", "cli"))
            }
            assert upward == set(), f"{name} imports {upward}"


def test_aion_never_imports_the_cli() -> None:
    graph = _graph()
    for name, targets in graph.items():
        if name == "aion" or name.startswith("aion."):
            assert {t for t in targets if t.split(".")[0] == "cli"} == set(), name


#: aion's layers from the ground up, as the layout in aion/__init__.py lists them.
LAYERS = (
    "aion._errors",
    "aion._events",
    "aion._clock",
    "aion._rowcodec",
    "aion._definitions",
    "aion._describe",
    "aion._commands",
    "aion._vocabulary",
    "aion._codec",
    "aion.store",
    "aion._endpoint",
    "aion._interpreter",
    "aion._replay",
    "aion._engine",
    "aion.testing",
)


def _layer(name: str) -> int | None:
    for position, layer in enumerate(LAYERS):
        if name == layer or name.startswith(layer + "."):
            return position
    return None


def test_layers_point_down() -> None:
    upward = []
    for name, targets in _graph().items():
        here = _layer(name)
        if here is None:
            continue
        for target in targets:
            there = _layer(target)
            if there is not None and there > here:
                upward.append(f"{name} -> {target}")
    assert upward == [], "imports from a lower layer up to a higher one"
