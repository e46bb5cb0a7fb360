"""Divergence reports: what history recorded at a seq beside what the code does now.

A report names the seq, both sides' kind, name, arguments and source line,
and the events around the point, so a person can see which edit caused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from aion._describe import args_text, event_line, short
from aion._errors import NondeterminismError
from aion._events import (
    ActivityScheduled,
    ChildStarted,
    CommandCancelled,
    CommandEvent,
    Decision,
    Event,
    GroupStarted,
    SignalSent,
    TimeoutStarted,
    TimerStarted,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
)

_CONTEXT = 3


class Diverged(Exception):
    """Internal: raised inside the interpreter at the first mismatch.

    Args:
        recorded: The recorded decision event.
        current: The decision the code made instead, as a `Decision`,
            or None when the code has not made any decision there.
        waiting: When ``current`` is None, what the code is doing instead.
    """

    def __init__(
        self,
        recorded: Event,
        current: Decision | None,
        waiting: dict[str, Any] | None,
    ) -> None:
        super().__init__(f"diverged at seq {recorded.seq}")
        self.recorded = recorded
        self.current = current
        self.waiting = waiting


def _args_of(kind: type[Event], fields: dict[str, Any]) -> str:
    if kind is ActivityScheduled:
        return args_text(fields.get("args"), fields.get("kwargs"))
    if kind is ChildStarted:
        return args_text(fields.get("args"))
    if kind in (TimerStarted, TimeoutStarted):
        return f"({fields.get('seconds', 0):g}s)"
    if kind is SignalSent:
        return f"(to {fields.get('target')!r}, {short(fields.get('payload'), 40)})"
    if kind is WorkflowCompleted:
        return f"result {short(fields.get('result'))}"
    if kind is WorkflowFailed:
        error = fields.get("error")
        return f"{getattr(error, 'type', '')}: {getattr(error, 'message', '')}"
    if kind is WorkflowContinuedAsNew:
        return args_text(fields.get("args"))
    if kind is CommandCancelled:
        return f"(ordinal {fields.get('ordinal')})"
    if kind is GroupStarted:  # a changed member count must show on both sides
        limit = fields.get("concurrency")
        return f"of {fields.get('size')}" + (f", {limit} at a time" if limit else "")
    return ""


def describe_decision(kind: type[Event], fields: dict[str, Any]) -> dict[str, Any]:
    """A decision as the dict shown on either side of a divergence report."""
    return {
        "kind": kind.__name__,
        "ordinal": fields.get("ordinal"),
        "name": fields.get("name", ""),
        "args": _args_of(kind, fields),
        "source": fields.get("source", ""),
    }


def _describe_event(event: Event) -> dict[str, Any]:
    fields = {f.name: getattr(event, f.name) for f in attrs.fields(type(event))}
    described = describe_decision(type(event), fields)
    described["seq"] = event.seq
    if not isinstance(event, CommandEvent):
        described["source"] = ""
    return described


def _side(d: dict[str, Any]) -> str:
    ordinal = f" #{d['ordinal']}" if d.get("ordinal") else ""
    name = f" {d['name']!r}" if d.get("name") else ""
    args = f" {d['args']}" if d.get("args") else ""
    where = f" at {d['source']}" if d.get("source") else ""
    return f"{d['kind']}{ordinal}{name}{args}{where}"


def divergence_error(
    workflow_id: str, exc: Diverged, history: Sequence[Event]
) -> NondeterminismError:
    """Build the user-facing `NondeterminismError` for an internal `Diverged`."""
    recorded = _describe_event(exc.recorded)
    if exc.current is not None:
        current = describe_decision(exc.current.kind, exc.current.fields)
    else:
        current = dict(exc.waiting or {"kind": "nothing", "name": "", "args": "", "source": ""})
    seq = exc.recorded.seq
    context = tuple(event_line(e) for e in history if abs(e.seq - seq) <= _CONTEXT)
    message = (
        f"workflow {workflow_id!r} diverged from its history at seq {seq}: "
        f"history recorded {_side(recorded)}, but the code now does {_side(current)}. "
        "The workflow code changed under a recorded history (guard the change with "
        "aion.patched()) or it reads something nondeterministic (time, randomness, "
        "set or dict order, shared state)."
    )
    return NondeterminismError(
        message,
        workflow_id=workflow_id,
        seq=seq,
        recorded=recorded,
        current=current,
        context=context,
    )
