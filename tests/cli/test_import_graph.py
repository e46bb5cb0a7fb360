"""The CLI package has no import circle, counting lazy and TYPE_CHECKING imports too.

A circle (app -> backend -> app) works only by the accident of import order
and breaks the first time someone imports a module on its own; read with
ast so that function-level and ``if TYPE_CHECKING:`` imports count as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "cli"


def graph(folder: Path) -> dict[str, set[str]]:
    """Module name to the sibling modules it imports (relative or ``aion_cli.`` imports)."""
    names = {p.stem for p in folder.glob("*.py")}
    edges: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level == 1:
                    targets = [module.split(".")[0]] if module else [a.name for a in node.names]
                elif module.startswith("aion_cli."):
                    targets = [module.split(".")[1]]
            elif isinstance(node, ast.Import):
                targets = [a.name.split(".")[1] for a in node.names if a.name[:9] == "aion_cli."]
            found.update(t for t in targets if t in names and t != path.stem)
        edges[path.stem] = found
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each as the path that closes it."""
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_the_checker_finds_a_circle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import y\n")
    (tmp_path / "c.py").write_text("if TYPE_CHECKING:\n    from aion_cli.d import z\n")
    (tmp_path / "d.py").write_text("import aion_cli.c\n")
    assert cycles(graph(tmp_path)) == [["a", "b", "a"], ["c", "d", "c"]]


def test_cli_has_no_import_circle() -> None:
    edges = graph(CLI)
    assert "errors" in edges and edges["errors"] == set()
    assert cycles(edges) == []
