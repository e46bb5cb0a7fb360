"""A static lint for workflow code (``aion lint PATH``, and the pytest hook).

It reads source with `ast` and never imports it. It looks at the bodies of
``@aion.workflow`` functions and at the functions of the same module they
call (transitively), and reports:

* ``AION101`` iterating a set (``for``, comprehensions, ``list()``/``tuple()``/
  ``enumerate()``/``next(iter())``): its order changes with ``PYTHONHASHSEED``;
* ``AION102`` ``key=id`` / ``key=hash``: ordered by memory address or hash;
* ``AION103`` the clocks, ``datetime.now/utcnow/today``, the ``random``
  module, ``uuid1/uuid4``, ``secrets``, ``os.environ``/``os.getenv``;
* ``AION104`` ``except Exception`` / ``except BaseException`` / a bare
  ``except`` around a ``yield``, which swallows `aion.Cancelled` unless an
  ``except aion.Cancelled`` comes first or the handler re-raises.

Code inside ``with allow_nondeterminism(...)`` is left alone, as is a line
ending in ``# aion: allow``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

_CLOCK_ATTRS = {
    "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"},
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "uuid": {"uuid1", "uuid4"},
    "os": {"environ", "getenv", "urandom"},
}
_WHOLE_MODULES = {"random", "secrets"}
_GENERIC = {"Exception", "BaseException"}


@attrs.frozen
class LintFinding:
    """One finding: where, which rule, and why it matters."""

    path: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"


def _decorated_workflow(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and target.attr == "workflow":
            return True
        if isinstance(target, ast.Name) and target.id == "workflow":
            return True
    return False


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module (or ``module.attr``) it stands for."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _is_set_expr(node: ast.AST, sets: set[str]) -> bool:
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("set", "frozenset")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.BitAnd | ast.Sub):
        return _is_set_expr(node.left, sets) or _is_set_expr(node.right, sets)
    return isinstance(node, ast.Name) and node.id in sets


def _set_names(body: Iterable[ast.stmt]) -> set[str]:
    out: set[str] = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and _is_set_expr(node.value, out):
                out.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif (
                isinstance(node, ast.AnnAssign)
                and node.value is not None
                and isinstance(node.target, ast.Name)
                and _is_set_expr(node.value, out)
            ):
                out.add(node.target.id)
    return out


class _Checker(ast.NodeVisitor):
    def __init__(
        self, path: str, lines: list[str], imports: dict[str, str], sets: set[str], what: str
    ) -> None:
        self.path, self.lines, self.imports, self.sets, self.what = path, lines, imports, sets, what
        self.findings: list[LintFinding] = []
        self.calls: set[str] = set()

    def add(self, node: ast.AST, code: str, message: str) -> None:
        line = getattr(node, "lineno", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.rstrip().endswith("# aion: allow"):
            return
        col = getattr(node, "col_offset", 0) + 1
        self.findings.append(LintFinding(self.path, line, col, code, f"{self.what} {message}"))

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            call = item.context_expr
            if isinstance(call, ast.Call):
                f = call.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name == "allow_nondeterminism":
                    return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return  # a nested def is checked where it is called, if in this module

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]  # noqa: N815
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]  # noqa: N815

    def _iterates(self, node: ast.AST, iterable: ast.AST) -> None:
        if _is_set_expr(iterable, self.sets):
            self.add(
                node, "AION101", "iterates a set: its order changes with PYTHONHASHSEED; sort it"
            )

    def visit_For(self, node: ast.For) -> None:
        self._iterates(node, node.iter)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._iterates(node.iter, node.iter)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name):
            self.calls.add(f.id)
            if f.id in ("list", "tuple", "enumerate", "iter", "zip") and node.args:
                self._iterates(node, node.args[0])
            target = self.imports.get(f.id, "")
            mod, _, attr = target.rpartition(".")
            if mod in _WHOLE_MODULES or attr in _CLOCK_ATTRS.get(mod.split(".")[-1], set()):
                self.add(node, "AION103", f"calls {target}(): it is outside the history")
        for kw in node.keywords:
            if kw.arg == "key" and isinstance(kw.value, ast.Name) and kw.value.id in ("id", "hash"):
                self.add(node, "AION102", f"orders by key={kw.value.id}: it changes between runs")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = node.value
        if isinstance(base, ast.Name):
            target = self.imports.get(base.id, base.id if base.id in _CLOCK_ATTRS else "")
            short = target.split(".")[-1]
            if target in _WHOLE_MODULES or node.attr in _CLOCK_ATTRS.get(short, set()):
                self.add(node, "AION103", f"uses {base.id}.{node.attr}: it is outside the history")
        elif isinstance(base, ast.Attribute) and base.attr in ("datetime", "date"):  # noqa: SIM102
            if node.attr in _CLOCK_ATTRS["datetime"]:
                self.add(
                    node, "AION103", f"uses {base.attr}.{node.attr}: it is outside the history"
                )
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        if _yields(node.body):
            handler = generic_handler(node)
            if handler is not None:
                self.add(
                    handler,
                    "AION104",
                    "catches everything around a yield, which swallows aion.Cancelled: "
                    "add `except aion.Cancelled: raise` first",
                )
        self.generic_visit(node)


def _yields(body: Iterable[ast.stmt]) -> bool:
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _names(node: ast.expr | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, ast.Tuple):
        return [n for e in node.elts for n in _names(e)]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.Name):
        return [node.id]
    return ["?"]


def generic_handler(node: ast.Try) -> ast.ExceptHandler | None:
    """The first handler of ``node`` that catches `aion.Cancelled` without naming it."""
    for handler in node.handlers:
        names = _names(handler.type)
        if "Cancelled" in names:
            return None
        if handler.type is None or any(n in _GENERIC for n in names):
            last = handler.body[-1] if handler.body else None
            if isinstance(last, ast.Raise) and last.exc is None:
                return None  # it re-raises
            return handler
    return None


def swallowing_handler(where: str) -> str | None:
    """``file:line`` of the handler that caught a Cancelled thrown in at ``where``.

    None when the code named `aion.Cancelled` itself (a deliberate choice).
    When the source cannot be read, ``where`` is returned: better to report.
    """
    path, _, line_text = where.rpartition(":")
    try:
        line = int(line_text)
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, SyntaxError):
        return where
    best: ast.Try | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and node.body:
            first, last = node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno
            if first <= line <= last and (best is None or first >= best.body[0].lineno):
                best = node
    if best is None:
        return where
    handler = generic_handler(best)
    return None if handler is None else f"{path}:{handler.lineno}"


def lint_source(source: str, path: str = "<string>") -> list[LintFinding]:
    """Lint one module's source."""
    tree = ast.parse(source, filename=path)
    lines = source.splitlines()
    imports = _imports(tree)
    module_sets = _set_names(tree.body)
    functions = {
        n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    todo = [(f, f"workflow {f.name}") for f in functions.values() if _decorated_workflow(f)]
    seen: set[str] = set()
    findings: list[LintFinding] = []
    while todo:
        fn, what = todo.pop()
        if fn.name in seen:
            continue
        seen.add(fn.name)
        checker = _Checker(path, lines, imports, module_sets | _set_names(fn.body), what)
        for stmt in fn.body:
            checker.visit(stmt)
        findings.extend(checker.findings)
        root = what.split(" (")[0]
        for name in sorted(checker.calls):
            if name in functions and name not in seen:
                todo.append((functions[name], f"{root} (through helper {name})"))
    return sorted(set(findings), key=lambda f: (f.path, f.line, f.col, f.code))


def _files(paths: Iterable[str]) -> Iterator[Path]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(
                f for f in path.rglob("*.py") if not any(part.startswith(".") for part in f.parts)
            )
        else:
            yield path


def lint_paths(paths: Iterable[str]) -> list[LintFinding]:
    """Lint every ``.py`` file under ``paths``.

    Raises:
        FileNotFoundError: A path does not exist.
        SyntaxError: A file does not parse.
    """
    out: list[LintFinding] = []
    for path in _files(paths):
        if not path.exists():
            msg = f"{path}: no such file or directory"
            raise FileNotFoundError(msg)
        shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
        out.extend(lint_source(path.read_text(encoding="utf-8"), shown))
    return out
