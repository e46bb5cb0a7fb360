"""One-line, human-readable summaries of events and commands.

Shared by divergence reports, `describe()`, and the CLI timeline, so the same
thing reads the same way everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    CancelRequested,
    ChildAwaited,
    ChildCompleted,
    ChildFailed,
    ChildStarted,
    CommandCancelled,
    Event,
    GroupStarted,
    PatchRecorded,
    SignalAwaited,
    SignalDelivered,
    SignalDeliveryFailed,
    SignalReceived,
    SignalSent,
    TimeoutStarted,
    TimerFired,
    TimerStarted,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStalled,
    WorkflowStarted,
    kind_of,
)


def short(value: Any, limit: int = 60) -> str:
    """Compact JSON text of a value, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def args_text(args: Any, kwargs: dict[str, Any] | None = None) -> str:
    """Arguments rendered as a call's argument list."""
    parts = [short(a, 40) for a in (args or [])]
    parts += [f"{k}={short(v, 40)}" for k, v in (kwargs or {}).items()]
    return "(" + ", ".join(parts) + ")"


def event_summary(event: Event) -> str:
    """What happened, in a few words: e.g. ``charge("o-1", 1299)`` or ``result 42``."""
    if isinstance(event, WorkflowStarted):
        return f"{event.name}{args_text(event.args)}"
    if isinstance(event, ActivityScheduled):
        return f"{event.name}{args_text(event.args, event.kwargs)}"
    if isinstance(event, TimerStarted | TimeoutStarted):
        return f"{event.seconds:g}s until {event.fire_at.isoformat(timespec='seconds')}"
    if isinstance(event, SignalAwaited):
        return f"wait for signal {event.name!r}"
    if isinstance(event, SignalSent):
        return f"{event.name!r} to {event.target!r}: {short(event.payload, 40)}"
    if isinstance(event, ChildStarted):
        return f"{event.name}{args_text(event.args)} as {event.child_id!r}"
    if isinstance(event, ChildAwaited):
        return f"await {event.child_id!r}"
    if isinstance(event, GroupStarted):
        extra = f", concurrency {event.concurrency}" if event.concurrency else ""
        return f"collect_{event.name} of {event.size}{extra}"
    if isinstance(event, PatchRecorded):
        return f"patch {event.name!r}"
    if isinstance(event, CommandCancelled):
        return f"ordinal {event.ordinal} cancelled ({event.reason})"
    if isinstance(event, ActivityCompleted | ChildCompleted | WorkflowCompleted):
        return f"result {short(event.result)}"
    if isinstance(event, ActivityFailed):
        retry = (
            f", retry at {event.retry_at.isoformat(timespec='seconds')}" if event.retry_at else ""
        )
        return f"attempt {event.attempt}: {event.error.type}: {event.error.message}{retry}"
    if isinstance(event, ChildFailed):
        return f"{event.status}: {event.error.type}: {event.error.message}"
    if isinstance(event, WorkflowFailed):
        return f"{event.error.type}: {event.error.message}"
    if isinstance(event, TimerFired):
        return f"ordinal {event.ordinal}"
    if isinstance(event, SignalReceived):
        return f"{event.name!r}: {short(event.payload, 50)}"
    if isinstance(event, SignalDelivered):
        return f"ordinal {event.ordinal}"
    if isinstance(event, SignalDeliveryFailed):
        return event.reason
    if isinstance(event, WorkflowCancelled | CancelRequested):
        return event.reason or ""
    if isinstance(event, WorkflowContinuedAsNew):
        return f"new run {event.new_run_id[:8]}{args_text(event.args)}"
    if isinstance(event, WorkflowStalled):
        return event.reason
    return ""


def event_line(event: Event) -> str:
    """``seq N Kind [#ordinal] summary`` for lists of surrounding events."""
    ordinal = getattr(event, "ordinal", None)
    ordinal_text = f" #{ordinal}" if ordinal is not None else ""
    return f"seq {event.seq} {kind_of(event)}{ordinal_text} {event_summary(event)}".rstrip()
