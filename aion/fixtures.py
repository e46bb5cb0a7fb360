"""Replay fixtures: recorded histories as versioned JSON files.

A fixture holds one workflow's history plus what replaying it must yield, so
a test suite (or ``aion replay FILE.json``) can prove that today's code still
matches yesterday's runs. Files are written with sorted keys and two-space
indents so they diff cleanly in review. The format::

    {
      "format": 1,                       # FORMAT_VERSION
      "workflow": "order",               # registered workflow name
      "module": "tests.fixture_workflows",  # where to import it from (optional)
      "workflow_id": "order-1",
      "input": ["o-1", 1299],
      "events": [{"kind": "WorkflowStarted", "seq": 1, ...}, ...],
      "expect": {"outcome": "completed", "result": ...}
    }

``expect.outcome`` is one of ``completed`` (with ``result``), ``failed`` (with
``error_type``), ``cancelled``, ``running`` (history ends mid-run),
``continued_as_new``, or ``nondeterminism`` (with the ``seq`` a correct
replay must report).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from aion import _codec
from aion._errors import HistoryError, NotRegisteredError
from aion._events import FORMAT_VERSION, Event, WorkflowStarted
from aion._replay import ReplayResult


@attrs.frozen(kw_only=True)
class Fixture:
    """A loaded fixture.

    Attributes:
        workflow: The registered workflow name.
        module: The module that defines it, when recorded.
        workflow_id: The recorded workflow id.
        input: The first run's input.
        events: The history.
        expect: What replay must yield (see the module docstring).
        path: The file it came from, when loaded from one.
    """

    workflow: str
    module: str | None
    workflow_id: str
    input: list[Any]
    events: tuple[Event, ...]
    expect: dict[str, Any]
    path: str | None = None


def expectation(result: ReplayResult) -> dict[str, Any]:
    """The ``expect`` block describing a replay's outcome."""
    if result.divergence is not None:
        return {"outcome": "nondeterminism", "seq": result.divergence.seq}
    if result.status == "completed":
        return {"outcome": "completed", "result": _codec.to_jsonable(result.result)}
    if result.status == "failed":
        err = result.error
        type_name = _codec.error_info(err).type if err is not None else ""
        return {"outcome": "failed", "error_type": type_name}
    return {"outcome": result.status}


def to_dict(
    workflow_id: str,
    history: Sequence[Event],
    *,
    expect: dict[str, Any] | None = None,
    module: str | None = None,
) -> dict[str, Any]:
    """A fixture as a JSON-ready dict."""
    if not history or not isinstance(history[0], WorkflowStarted):
        msg = f"the history of {workflow_id!r} does not begin with WorkflowStarted."
        raise HistoryError(msg)
    started = history[0]
    data: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "workflow": started.name,
        "module": module,
        "workflow_id": workflow_id,
        "input": started.args,
        "events": [_codec.event_to_dict(e) for e in history],
    }
    if expect is not None:
        data["expect"] = expect
    return data


def dumps(data: dict[str, Any]) -> str:
    """Fixture JSON text: sorted keys, two-space indents, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write a fixture file atomically (a reader never sees half a file)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(dumps(data), encoding="utf-8")
    tmp.replace(target)


def from_dict(data: Any, path: str | None = None) -> Fixture:
    """Validate and load a fixture dict, raising `HistoryError` saying what is wrong."""
    where = path or "fixture"
    if not isinstance(data, dict):
        msg = f"{where} is not a JSON object."
        raise HistoryError(msg)
    version = data.get("format")
    if not isinstance(version, int):
        msg = f"{where} has no integer 'format' field: it is not an aion fixture."
        raise HistoryError(msg)
    if version > FORMAT_VERSION:
        msg = f"{where} is in fixture format {version}; this aion reads up to {FORMAT_VERSION}."
        raise HistoryError(msg)
    raw_events = data.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        msg = f"{where} has no events."
        raise HistoryError(msg)
    events = tuple(
        _codec.event_from_dict(e) if isinstance(e, dict) else _bad_event(where, i)
        for i, e in enumerate(raw_events)
    )
    workflow = data.get("workflow")
    if not isinstance(workflow, str):
        msg = f"{where} has no 'workflow' name."
        raise HistoryError(msg)
    return Fixture(
        workflow=workflow,
        module=data.get("module"),
        workflow_id=str(data.get("workflow_id", "<fixture>")),
        input=list(data.get("input", [])),
        events=events,
        expect=dict(data.get("expect") or {}),
        path=path,
    )


def _bad_event(where: str, index: int) -> Event:
    msg = f"{where}: event {index} is not a JSON object."
    raise HistoryError(msg)


def load(path: str | os.PathLike[str]) -> Fixture:
    """Read a fixture file.

    Raises:
        aion.HistoryError: The file is not valid JSON or not a valid fixture.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        msg = f"{os.fspath(path)} is not valid JSON ({exc})."
        raise HistoryError(msg) from None
    return from_dict(data, os.fspath(path))


def resolve(module: str, name: str) -> Callable[..., Any]:
    """Import ``module`` and find the workflow registered as ``name`` in it.

    Raises:
        aion.NotRegisteredError: The module has no such workflow.
    """
    mod = importlib.import_module(module)
    for value in vars(mod).values():
        definition = getattr(value, "__aion_workflow__", None)
        if definition is not None and definition.name == name:
            fn: Callable[..., Any] = value
            return fn
    msg = f"module {module!r} defines no workflow named {name!r}."
    raise NotRegisteredError(msg)


def check(fixture: Fixture, result: ReplayResult) -> str | None:
    """Compare a replay with the fixture's expectation; None when it matches, else why not."""
    expect = fixture.expect
    if not expect:
        return None if result.ok else f"replay of {fixture.workflow_id!r} did not succeed"
    got = expectation(result)
    if got.get("outcome") != expect.get("outcome"):
        return f"expected outcome {expect.get('outcome')!r}, replay gave {got.get('outcome')!r}"
    for key in ("result", "error_type", "seq"):
        if key in expect and _codec.dumps(expect[key]) != _codec.dumps(got.get(key)):
            return f"expected {key} {expect[key]!r}, replay gave {got.get(key)!r}"
    return None
