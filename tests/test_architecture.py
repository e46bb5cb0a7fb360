"""The import graph of aion and its CLI: layers point down, and no package has a circle.

Every module under ``aion/`` and ``cli/`` is parsed with `ast` (nothing is
imported), and every import in it counts, including those under
``if TYPE_CHECKING:``: a circle that only the type checker sees still ties
the modules' meanings together. A package's ``__init__`` is its face (it
re-exports), so imports of a package are read as imports of that package's
``__init__`` and are left out of circles within it; ``from pkg import mod``
is an import of ``pkg.mod`` only.

Circles are looked for three ways: within each package, across all of
``aion`` module by module (a circle through two packages, such as the engine
and the cluster, is one too), and between ``aion``'s subpackages as wholes.
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
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            names_of_face = any(m not in known for m in submodules)
            targets = [base, *submodules] if names_of_face else submodules
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


def _sccs(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected groups of two or more nodes of ``graph`` (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            name, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    advanced = True
                    break
                if target in on_stack:
                    low[name] = min(low[name], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[name])
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
    return found


def _aion_graph() -> dict[str, set[str]]:
    """aion's modules and what each imports in aion, a package face's own re-exports left out."""
    graph = _graph()
    out: dict[str, set[str]] = {}
    for name, targets in graph.items():
        if name != "aion" and not name.startswith("aion."):
            continue
        out[name] = {
            t
            for t in targets
            if (t == "aion" or t.startswith("aion."))
            # a package's face importing its own modules, or a module its own face: re-exports
            and not name.startswith(t + ".")
            and not (t.startswith(name + ".") and _package(name, graph) == name)
        }
    return out


def _subpackage(name: str) -> str:
    """``aion._engine._runtime`` -> ``aion._engine``; a module of the root stands for itself."""
    return ".".join(name.split(".")[:2])


def test_no_circle_anywhere_in_aion() -> None:
    circles = _sccs(_aion_graph())
    assert circles == [], f"aion modules that import each other in a loop: {circles}"


def test_no_circle_between_aions_packages() -> None:
    graph = _aion_graph()
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        if name == "aion":
            continue  # the face re-exports everything: it stands above every package
        home = _subpackage(name)
        packages.setdefault(home, set()).update(
            _subpackage(t) for t in targets if t != "aion" and _subpackage(t) != home
        )
    circles = _sccs(packages)
    assert circles == [], f"aion packages that import each other in a loop: {circles}"


def test_the_cluster_sees_the_engine_only_through_its_protocol() -> None:
    graph = _aion_graph()
    for name, targets in graph.items():
        if name.startswith("aion._cluster"):
            assert "aion._engine._engine" not in targets or name == "aion._cluster._worker", name
        if name.startswith("aion._engine"):
            assert not {t for t in targets if t.startswith("aion._cluster")}, name


def test_a_circle_is_found_when_there_is_one() -> None:
    graph = {"p": set(), "p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert _circles(graph) == [{"p.a", "p.b", "p.c"}]
    across = {"p.x.a": {"p.y.b"}, "p.y.b": {"p.x.c"}, "p.x.c": {"p.x.a"}, "p.y.d": set()}
    assert _circles(across) == []  # a circle through two packages: not seen one package at a time
    assert _sccs(across) == [{"p.x.a", "p.y.b", "p.x.c"}]


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
    "aion._openers",
    "aion._interpreter",
    "aion._replay",
    "aion._engine",
    "aion._cluster",
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
