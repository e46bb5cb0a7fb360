"""The CLI is built on aion's public API only: no ``aion._*`` module, however reached.

If the CLI needs something internal, the fix is a public re-export (in
`aion.events`, `aion.codec`, `aion.describe`, `aion.interpreter`, `aion.store`,
...), so users' tools can do what the CLI does. Read with ast, not grep, so
multi-line, relative-free and function-level imports all count.
"""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parent.parent / "cli"


def _private(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "aion" and any(p.startswith("_") for p in parts[1:])


def private_uses(source: str, filename: str) -> list[str]:
    """Every ``aion._*`` module a source file imports or names, as ``file:line module``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names = [f"{node.value.id}.{node.attr}"]  # aion._codec.x after `import aion`
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]  # importlib.import_module("aion._engine")
        line = getattr(node, "lineno", 0)
        found += [f"{filename}:{line} {n}" for n in names if _private(n)]
    return found


def test_the_checker_sees_every_form() -> None:
    source = "\n".join(
        [
            "import aion._codec",
            "from aion._events import Event",
            "from aion import _codec",
            "from aion.store._duckdb import DuckDBStore",
            "import aion",
            "x = aion._codec",
            "def f():",
            "    from aion._interpreter import (",
            "        Interpreter,",
            "    )",
            "m = __import__('importlib').import_module('aion._engine')",
            "from aion import events, store",
            "from aion.events import Event",
        ]
    )
    lines = sorted({int(u.split(":")[1].split()[0]) for u in private_uses(source, "x.py")})
    assert lines == [1, 2, 3, 4, 6, 8, 11]


def test_cli_imports_no_private_aion_module() -> None:
    files = sorted(CLI.rglob("*.py"))
    assert len(files) > 10
    uses = [u for p in files for u in private_uses(p.read_text(), str(p.relative_to(CLI.parent)))]
    assert uses == [], "\n".join(uses)
