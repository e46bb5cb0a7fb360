"""Functions another interpreter can rebuild: by module path and qualified name, or by code.

The replay servers run under other hash seeds, so they must find the
workflows under test themselves. A function defined at module level is found
by ``(module, qualname, file)`` (a ``__main__`` module by its file). A closure
(a workflow defined inside a test function) cannot be found that way, so it
is sent as its code object (``marshal``, the same interpreter reads it), its
module (whose namespace becomes its globals), and the values of its free
variables: functions among them the same way, other values pickled. The
server is this process's own child and trusts it, as it trusts the modules
it imports. What cannot be sent (a value that does not pickle) makes the
description None, and the kit warns that the check did not run.
"""

from __future__ import annotations

import base64
import marshal
import pickle
import sys
import types
from collections.abc import Callable
from typing import Any

import attrs

from aion._definitions import ActivityDefinition, WorkflowDefinition

#: How deep closures may refer to closures (a recursive local function stops here).
_MAX_DEPTH = 8
_WORKFLOW_ATTR = "__aion_workflow__"
_ACTIVITY_ATTR = "__aion_activity__"


def reference(fn: Callable[..., Any]) -> tuple[str, str, str | None] | None:
    """``(module, qualname, file)`` to find ``fn`` in another interpreter, or None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if module is None or "<locals>" in qualname or "<lambda>" in qualname:
        return None
    mod = sys.modules.get(module)
    if mod is None:
        return None
    value: Any = mod
    for part in qualname.split("."):
        value = getattr(value, part, None)
    if value is not fn:
        return None
    file = getattr(mod, "__file__", None) if module == "__main__" else None
    if module == "__main__" and file is None:
        return None
    return module, qualname, file


def describe(fn: Any, depth: int = 0) -> dict[str, Any] | None:
    """A JSON-able description another interpreter rebuilds ``fn`` from, or None."""
    ref = reference(fn)
    if ref is not None:
        return {"ref": list(ref)}
    if not isinstance(fn, types.FunctionType) or depth > _MAX_DEPTH:
        return None
    mod = sys.modules.get(fn.__module__)
    file = getattr(mod, "__file__", None)
    if mod is None or (fn.__module__ == "__main__" and file is None):
        return None
    cells = []
    for cell in fn.__closure__ or ():
        try:
            content = cell.cell_contents
        except ValueError:  # a free variable not yet assigned
            cells.append({"empty": True})
            continue
        value = _value(content, depth)
        if value is None:
            return None
        cells.append(value)
    defaults = [_value(v, depth) for v in fn.__defaults__ or ()]
    kwdefaults = {k: _value(v, depth) for k, v in (fn.__kwdefaults__ or {}).items()}
    if None in defaults or None in kwdefaults.values():
        return None
    out: dict[str, Any] = {
        "code": _b64(marshal.dumps(fn.__code__)),
        "module": fn.__module__,
        "file": file if fn.__module__ == "__main__" else None,
        "name": fn.__name__,
        "qualname": fn.__qualname__,
        "cells": cells,
        "defaults": defaults,
        "kwdefaults": kwdefaults,
    }
    workflow = getattr(fn, _WORKFLOW_ATTR, None)
    if isinstance(workflow, WorkflowDefinition):
        out["workflow"] = workflow.name
    activity = getattr(fn, _ACTIVITY_ATTR, None)
    if isinstance(activity, ActivityDefinition):
        try:
            out["activity"] = _b64(pickle.dumps(attrs.evolve(activity, fn=_placeholder)))
        except Exception:  # an option that does not pickle
            return None
    return out


def _placeholder() -> None:
    """Stands for an activity's function while its options travel (pickled by reference)."""


def _value(value: Any, depth: int) -> dict[str, Any] | None:
    if isinstance(value, types.FunctionType):
        described = describe(value, depth + 1)
        return None if described is None else {"function": described}
    try:
        return {"pickle": _b64(pickle.dumps(value))}
    except Exception:  # a lock, a connection, a local class: cannot be sent
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def rebuild(desc: dict[str, Any], find: Callable[..., Any], module: Callable[..., Any]) -> Any:
    """The function ``desc`` describes, in this interpreter.

    Args:
        desc: What `describe` gave.
        find: ``find(module, qualname, file)`` for a reference.
        module: ``module(name, file)`` for a closure's module.
    """
    if "ref" in desc:
        return find(*desc["ref"])
    namespace = module(desc["module"], desc["file"]).__dict__
    cells = tuple(
        types.CellType() if c.get("empty") else types.CellType(_load(c, find, module))
        for c in desc["cells"]
    )
    fn = types.FunctionType(
        marshal.loads(base64.b64decode(desc["code"])),  # our own parent sent it
        namespace,
        desc["name"],
        tuple(_load(v, find, module) for v in desc["defaults"]) or None,
        cells or None,
    )
    fn.__qualname__ = desc["qualname"]
    fn.__kwdefaults__ = {k: _load(v, find, module) for k, v in desc["kwdefaults"].items()} or None
    if "workflow" in desc:
        setattr(fn, _WORKFLOW_ATTR, WorkflowDefinition(name=desc["workflow"], fn=fn))
    if "activity" in desc:
        activity = pickle.loads(base64.b64decode(desc["activity"]))
        setattr(fn, _ACTIVITY_ATTR, attrs.evolve(activity, fn=fn))
    return fn


def _load(value: dict[str, Any], find: Callable[..., Any], module: Callable[..., Any]) -> Any:
    if "function" in value:
        return rebuild(value["function"], find, module)
    return pickle.loads(base64.b64decode(value["pickle"]))
