"""One-line, human-readable summaries of events and commands.

Shared by divergence reports, `describe()`, and the CLI timeline, so the same
thing reads the same way everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    if isinstance(event, WorkflowCancelled) and event.terminated:
        return "terminated" + (f": {event.reason}" if event.reason else "")
    if isinstance(event, CancelRequested) and event.terminate:
        return "terminate" + (f": {event.reason}" if event.reason else "")
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


def pending_commands(history: Sequence[Event]) -> list[str]:
    """What the current run waits on, derived from its events alone (in ordinal order).

    The one derivation behind every ``describe``: a resident workflow's, an
    evicted one's (no generator in memory) and the CLI's offline one (no
    code at all) read the same lines from the same events. A command waits
    until its final outcome or its cancellation is recorded. A
    ``receive_signal`` consumes the k-th signal of its name among the receives
    that were not cancelled (a cancelled receive never consumed one: a
    settled command is never cancelled), so inside ``collect_*`` groups and
    timeouts the answer is exact too.
    """
    start = 0
    for i in range(len(history) - 1, -1, -1):
        if isinstance(history[i], WorkflowStarted):
            start = i
            break
    run = history[start:]
    lines: dict[int, str] = {}
    receivers: dict[str, list[int]] = {}
    arrived: dict[str, int] = {}
    ended: set[int] = set()
    for event in run:
        if isinstance(event, ActivityScheduled):
            lines[event.ordinal] = f"activity #{event.ordinal} {event.name} at {event.source}"
        elif isinstance(event, TimerStarted):
            lines[event.ordinal] = (
                f"timer #{event.ordinal} sleep {event.seconds:g}s at {event.source}"
            )
        elif isinstance(event, TimeoutStarted):
            lines[event.ordinal] = f"timeout #{event.ordinal} with_timeout at {event.source}"
        elif isinstance(event, SignalSent):
            lines[event.ordinal] = f"send #{event.ordinal} {event.name} at {event.source}"
        elif (isinstance(event, ChildStarted) and event.awaited) or isinstance(event, ChildAwaited):
            lines[event.ordinal] = f"child #{event.ordinal} {event.child_id} at {event.source}"
        elif isinstance(event, SignalAwaited):
            lines[event.ordinal] = f"signal {event.name!r} at {event.source}"
            receivers.setdefault(event.name, []).append(event.ordinal)
        elif isinstance(event, SignalReceived):
            arrived[event.name] = arrived.get(event.name, 0) + 1
        elif isinstance(event, ActivityFailed):
            if event.retry_at is None:
                ended.add(event.ordinal)
        elif isinstance(
            event,
            ActivityCompleted
            | TimerFired
            | SignalDelivered
            | SignalDeliveryFailed
            | ChildCompleted
            | ChildFailed
            | CommandCancelled,
        ):
            ended.add(event.ordinal)
    for name, ordinals in receivers.items():
        live = [o for o in ordinals if o not in ended]
        ended.update(live[: arrived.get(name, 0)])  # consumed, in order
    return [lines[o] for o in sorted(lines) if o not in ended]
