"""Replay histories in other interpreters (``python -P .../aion/testing/_isolated.py``).

`assert_deterministic` keeps a few of these servers, each started with its
own fresh ``PYTHONHASHSEED``, so a workflow whose commands follow the
iteration order of a set (or anything ordered by string hashing) is caught:
the order is fixed within one process but changes between processes. Each
request is answered in a forked child, so state one replay leaves in module
globals or caches never leaks into the next: the question asked is always
"does a fresh process replay this history?".

A server reads one JSON request per line on stdin::

    {"workflows": [[module, qualname, file], ...], "activities": [...],
     "histories": [fixture dict, ...]}

and writes one JSON line back: a list with one result per history,
``{"workflow_id", "ok", "divergence", "fields", "error"}`` (``fields``: the
divergence's attributes), or ``{"fatal": text}``.
Workflows are found by module path and qualified name; a ``__main__``
module is loaded from its file under another name (its main block, guarded
by the usual name test, does not run). The server runs by path, not with
``-m``, so it does not import the ``aion.testing`` package: only what a
replay needs (a test pins that it loads no duckdb, rich, click or cattrs),
since each call of the kit starts ten of these.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import traceback
from types import ModuleType
from typing import Any

# Only what a memory replay needs: no store (duckdb), no CLI (click, rich), no
# fixtures module (its file handling), and cattrs only if a value needs it.
from aion._codec import event_from_dict
from aion._definitions import Registry
from aion._replay import replay

_MAIN = "__aion_main__"


def _module(module: str, file: str | None) -> ModuleType:
    if module != "__main__":
        return importlib.import_module(module)
    loaded = sys.modules.get(_MAIN)
    if loaded is None:
        spec = importlib.util.spec_from_file_location(_MAIN, file or "")
        if spec is None or spec.loader is None:
            msg = f"cannot load the __main__ module from {file!r}"
            raise ImportError(msg)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[_MAIN] = loaded
        spec.loader.exec_module(loaded)
    return loaded


def find(module: str, qualname: str, file: str | None = None) -> Any:
    """The object at ``module``'s ``qualname``."""
    value: Any = _module(module, file)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def replay_request(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Replay every history of a request; one result dict each."""
    workflows = [find(*ref) for ref in request["workflows"]]
    activities = [find(*ref) for ref in request["activities"]]
    registry = Registry(workflows, activities)
    out = []
    for data in request["histories"]:
        # The parent wrote these with `fixtures.to_dict` from histories it holds:
        # decoded, not validated as a fixture from elsewhere would be.
        events = [event_from_dict(e) for e in data["events"]]
        workflow_id = data["workflow_id"]
        result = replay(data["workflow"], events, registry=registry, workflow_id=workflow_id)
        extra = result.interpreter.new_decisions if result.interpreter is not None else []
        error = None if result.ok else str(result.error)
        if result.ok and extra:
            error = "replaying issued commands the history lacks: " + ", ".join(
                d.kind.__name__ for d in extra
            )
        out.append(
            {
                "workflow_id": workflow_id,
                "ok": result.ok and not extra,
                "divergence": str(result.divergence) if result.divergence is not None else None,
                "fields": _fields(result.divergence),
                "error": error,
            }
        )
    return out


def _fields(divergence: Any) -> dict[str, Any] | None:
    """What the parent needs to rebuild the `NondeterminismError` (plain JSON values)."""
    if divergence is None:
        return None
    data = {
        "workflow_id": divergence.workflow_id,
        "seq": divergence.seq,
        "recorded": divergence.recorded,
        "current": divergence.current,
        "context": list(divergence.context),
    }
    parsed: dict[str, Any] = json.loads(json.dumps(data, default=repr))
    return parsed


def _answer(line: str) -> Any:
    try:
        return replay_request(json.loads(line))
    except BaseException:  # report, keep serving: one bad request must not kill the pool
        return {"fatal": traceback.format_exc()[-3000:]}


def _preload(line: str) -> None:
    """Import the request's modules here, before forking, so each child starts warm.

    Importing runs only module bodies, never a workflow, so the state the
    children inherit is what any fresh process would have after the import.
    """
    try:
        request = json.loads(line)
        for module, _, file in [*request["workflows"], *request["activities"]]:
            _module(module, file)
    except BaseException:  # the child reports the same error, with its traceback
        pass


def _answer_in_child(line: str) -> Any:
    """Answer in a forked child, so every request starts from a fresh process state."""
    _preload(line)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        data = json.dumps(_answer(line)).encode()
        with os.fdopen(write, "wb") as out:
            out.write(data)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as src:
        data = src.read()
    os.waitpid(pid, 0)
    return json.loads(data) if data else {"fatal": "the replay child died"}


def main() -> None:
    """Serve requests, one JSON line in, one JSON line out, until stdin closes."""
    fork = hasattr(os, "fork")
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = _answer_in_child(line) if fork else _answer(line)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
