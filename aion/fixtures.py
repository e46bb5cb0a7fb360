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

import contextlib
import importlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from aion import _codec
from aion._errors import HistoryError, NotRegisteredError
from aion._events import (
    FORMAT_VERSION,
    Event,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStarted,
    kind_of,
)
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
    """Write a fixture file atomically (a reader never sees half a file).

    The temporary file is made by `tempfile.mkstemp` beside the target
    (``O_CREAT | O_EXCL``, so a symlink planted at a predictable name is never
    followed), then renamed over the target.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(data))
        os.chmod(tmp, 0o644)  # a fixture is for sharing; mkstemp made it 0600
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: The largest fixture file read (a 10,000-command history is about 10 MB).
MAX_BYTES = 256 * 1024 * 1024
#: The keys a fixture may hold.
_KEYS = frozenset({"format", "workflow", "module", "workflow_id", "input", "events", "expect"})
#: ``expect.outcome`` values, and the keys each may carry.
_OUTCOMES: dict[str, frozenset[str]] = {
    "completed": frozenset({"result"}),
    "failed": frozenset({"error_type"}),
    "cancelled": frozenset(),
    "running": frozenset(),
    "stalled": frozenset(),
    "continued_as_new": frozenset(),
    "nondeterminism": frozenset({"seq"}),
}
_ENDS_RUN = (WorkflowCompleted, WorkflowFailed, WorkflowCancelled)


def _refuse(message: str) -> HistoryError:
    return HistoryError(message)


def _is_int(value: Any) -> bool:
    return type(value) is int


def _module_name(value: Any) -> bool:
    """``pkg.mod`` or ``pkg.mod:qualname``: a name to look up, never a file path."""
    if not isinstance(value, str):
        return False
    module, _, qualname = value.partition(":")
    if module.endswith(".py"):
        return False
    parts = module.split(".") + (qualname.split(".") if ":" in value else [])
    return bool(module) and all(part.isidentifier() for part in parts)


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _exact(raw: Any, decoded: Any) -> bool:
    """Whether ``raw`` is what aion would write for ``decoded`` (no silent conversion).

    cattrs converts generously (``"no"`` to ``True``, ``{"a": 1}`` to ``["a"]``,
    ``None`` to ``"None"``); a fixture that needed such a conversion is refused.
    Defaulted fields may be missing (older fixtures), ints stand for floats, and a
    timestamp may be any ISO-8601 string that parsed.
    """
    if attrs.has(type(decoded)):
        if not isinstance(raw, dict):
            return False
        names = {f.name for f in attrs.fields(type(decoded))}
        return all(k in names and _exact(v, getattr(decoded, k)) for k, v in raw.items())
    if isinstance(decoded, datetime):
        return isinstance(raw, str)
    if type(decoded) is float:
        return type(raw) in (int, float) and float(raw) == decoded
    return _json_text(raw) == _json_text(_codec.CONVERTER.unstructure(decoded))


def _event(where: str, index: int, raw: Any) -> Event:
    if not isinstance(raw, dict):
        msg = f"{where}: event {index + 1} is not a JSON object."
        raise _refuse(msg)
    try:
        event = _codec.event_from_dict(raw)
    except HistoryError as exc:
        msg = f"{where}: event {index + 1}: {exc}"
        raise _refuse(msg) from None
    known = {f.name for f in attrs.fields(type(event))}
    for key, value in raw.items():
        if key == "kind":
            continue
        if key not in known:
            msg = f"{where}: event {index + 1} ({raw.get('kind')}) has an unknown field {key!r}."
            raise _refuse(msg)
        if not _exact(value, getattr(event, key)):
            shown = _json_text(value)
            shown = shown if len(shown) <= 60 else shown[:59] + "…"
            msg = (
                f"{where}: event {index + 1} ({raw.get('kind')}) has a wrong {key!r}: {shown} "
                "is not of the recorded type."
            )
            raise _refuse(msg)
    return event


def _events(where: str, raw_events: Any) -> tuple[Event, ...]:
    if not isinstance(raw_events, list) or not raw_events:
        msg = f"{where} has no events."
        raise _refuse(msg)
    events: list[Event] = []
    for index, raw in enumerate(raw_events):
        event = _event(where, index, raw)
        if event.seq != index + 1:
            msg = f"{where}: event {index + 1} has seq {event.seq}; seqs must run 1, 2, 3..."
            raise _refuse(msg)
        previous = events[-1] if events else None
        if previous is None and not isinstance(event, WorkflowStarted):
            msg = f"{where}: the history begins with {kind_of(event)}, not WorkflowStarted."
            raise _refuse(msg)
        if isinstance(previous, _ENDS_RUN):
            msg = f"{where}: event {index + 1} ({kind_of(event)}) follows {kind_of(previous)}."
            raise _refuse(msg)
        if isinstance(previous, WorkflowContinuedAsNew) and not isinstance(event, WorkflowStarted):
            msg = (
                f"{where}: event {index + 1} ({kind_of(event)}) follows WorkflowContinuedAsNew, "
                "where only the next run's WorkflowStarted may."
            )
            raise _refuse(msg)
        events.append(event)
    return tuple(events)


def _expect(where: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        msg = f"{where}: 'expect' is not a JSON object."
        raise _refuse(msg)
    if not raw:
        return {}
    outcome = raw.get("outcome")
    allowed = _OUTCOMES.get(outcome) if isinstance(outcome, str) else None
    if allowed is None:
        msg = f"{where}: 'expect.outcome' must be one of {', '.join(sorted(_OUTCOMES))}."
        raise _refuse(msg)
    extra = set(raw) - allowed - {"outcome"}
    if extra:
        msg = f"{where}: 'expect' for {outcome!r} cannot hold {', '.join(sorted(extra))}."
        raise _refuse(msg)
    if "error_type" in raw and not isinstance(raw["error_type"], str):
        msg = f"{where}: 'expect.error_type' must be a string."
        raise _refuse(msg)
    if "seq" in raw and not (_is_int(raw["seq"]) and raw["seq"] >= 1):
        msg = f"{where}: 'expect.seq' must be a positive integer."
        raise _refuse(msg)
    return dict(raw)


def from_dict(data: Any, path: str | None = None) -> Fixture:
    """Validate and load a fixture dict, raising `HistoryError` saying what is wrong.

    Validation is strict because a fixture is data from anywhere (a bug report,
    another program): every field must have exactly the type aion writes, the
    seqs must run 1..n from a WorkflowStarted, and nothing may follow the end
    of the last run.
    """
    where = path or "fixture"
    try:
        return _from_dict(data, where, path)
    except RecursionError:
        msg = f"{where} is nested too deeply to be an aion fixture."
        raise _refuse(msg) from None


def _from_dict(data: Any, where: str, path: str | None) -> Fixture:
    if not isinstance(data, dict):
        msg = f"{where} is not a JSON object."
        raise _refuse(msg)
    version = data.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        msg = f"{where} has no integer 'format' field: it is not an aion fixture."
        raise _refuse(msg)
    if version > FORMAT_VERSION or version < 1:
        msg = f"{where} is in fixture format {version}; this aion reads 1 to {FORMAT_VERSION}."
        raise _refuse(msg)
    unknown = set(data) - _KEYS
    if unknown:
        msg = f"{where} has unknown fields: {', '.join(sorted(map(repr, unknown)))}."
        raise _refuse(msg)
    module = data.get("module")
    if module is not None and not _module_name(module):
        msg = f"{where}: 'module' must be a dotted module name (pkg.mod or pkg.mod:qualname)."
        raise _refuse(msg)
    workflow_id = data.get("workflow_id", "<fixture>")
    if not isinstance(workflow_id, str) or not workflow_id:
        msg = f"{where}: 'workflow_id' must be a non-empty string."
        raise _refuse(msg)
    events = _events(where, data.get("events"))
    workflow = data.get("workflow")
    if not isinstance(workflow, str) or not workflow:
        msg = f"{where} has no 'workflow' name."
        raise _refuse(msg)
    started = events[0]
    assert isinstance(started, WorkflowStarted)  # checked by _events
    if started.name != workflow:
        msg = f"{where} names workflow {workflow!r}, but its history started {started.name!r}."
        raise _refuse(msg)
    raw_input = data.get("input", started.args)
    if not isinstance(raw_input, list):
        msg = f"{where}: 'input' must be a JSON array."
        raise _refuse(msg)
    return Fixture(
        workflow=workflow,
        module=module,
        workflow_id=workflow_id,
        input=list(raw_input),
        events=events,
        expect=_expect(where, data.get("expect")),
        path=path,
    )


def _no_constants(name: str) -> Any:
    msg = f"{name} is not JSON"
    raise ValueError(msg)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            msg = f"duplicate key {key!r}"
            raise ValueError(msg)
        result[key] = value
    return result


def _read(path: str) -> bytes:
    """The file's bytes: a regular file only, at most `MAX_BYTES` (never a device or FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        msg = f"{path}: no such fixture file."
        raise _refuse(msg) from None
    except OSError as exc:
        msg = f"{path} cannot be opened: {exc.strerror}."
        raise _refuse(msg) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            msg = f"{path} is not a regular file."
            raise _refuse(msg)
        if info.st_size > MAX_BYTES:
            msg = f"{path} is {info.st_size} bytes; a fixture may be at most {MAX_BYTES}."
            raise _refuse(msg)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:
            msg = f"{path} grew past {MAX_BYTES} bytes while being read."
            raise _refuse(msg)
        return b"".join(chunks)
    except OSError as exc:
        msg = f"{path} cannot be read: {exc.strerror}."
        raise _refuse(msg) from None
    finally:
        os.close(fd)


def loads(text: bytes | str, where: str = "fixture") -> Fixture:
    """Parse and validate fixture text (UTF-8 JSON), raising `HistoryError` saying what."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"{where} is not UTF-8 text (byte {exc.start})."
            raise _refuse(msg) from None
    try:
        data = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except RecursionError:
        msg = f"{where} is nested too deeply to be an aion fixture."
        raise _refuse(msg) from None
    except ValueError as exc:
        msg = f"{where} is not valid JSON ({exc})."
        raise _refuse(msg) from None
    return from_dict(data, where)


def load(path: str | os.PathLike[str]) -> Fixture:
    """Read a fixture file.

    Raises:
        aion.HistoryError: The file is not a regular file, too large, not
            UTF-8 JSON, or not a valid fixture.
    """
    where = os.fspath(path)
    return loads(_read(where), where)


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
