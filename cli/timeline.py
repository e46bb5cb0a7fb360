"""What a history says, arranged for people: runs, command spans, attempts, durations.

A history is a flat list of events; people think in runs ("the second run,
after continue-as-new") and in commands ("the charge call took three
attempts and 4.2 s"). This module derives both from the events alone, with
no workflow code, so ``inspect``, ``describe`` and the HTML timeline work on
any database or fixture. The renderers here return rich renderables and
never print.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from aion.describe import event_summary
from aion.events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildAwaited,
    ChildCompleted,
    ChildFailed,
    ChildStarted,
    CommandCancelled,
    CommandEvent,
    Event,
    GroupStarted,
    SignalAwaited,
    SignalDelivered,
    SignalDeliveryFailed,
    SignalReceived,
    SignalSent,
    TimeoutStarted,
    TimerFired,
    TimerStarted,
    WorkflowStarted,
    kind_of,
)

from .safe import clean, data
from .when import fmt_time as fmt_time  # where it lived; gantt and output use it


@attrs.define
class Attempt:
    """One recorded attempt of an activity call."""

    number: int
    at: datetime
    ok: bool
    detail: str


@attrs.define
class Span:
    """One command from the moment it was recorded to its outcome.

    Attributes:
        ordinal: The command's ordinal in its run.
        kind: ``activity``, ``timer``, ``timeout``, ``signal``, ``send``,
            ``child`` or ``group``.
        name: Activity, signal or child name (or a short description).
        source: ``file:line`` that yielded it.
        start: When the command was recorded.
        end: When its outcome was recorded (None while pending).
        outcome: ``completed``, ``failed``, ``fired``, ``received``,
            ``cancelled``, ``delivered``... or None while pending.
        attempts: Activity attempts, in order.
    """

    ordinal: int
    kind: str
    name: str
    source: str
    start: datetime
    end: datetime | None = None
    outcome: str | None = None
    attempts: list[Attempt] = attrs.field(factory=list)

    @property
    def duration(self) -> timedelta | None:
        """How long the command took (None while pending)."""
        return None if self.end is None else self.end - self.start


@attrs.define
class Run:
    """One run of a workflow (a workflow has several after continue-as-new)."""

    number: int
    run_id: str
    workflow_type: str
    events: list[Event]

    @property
    def started(self) -> datetime:
        """When the run started."""
        return self.events[0].recorded_at


def split_runs(history: Sequence[Event]) -> list[Run]:
    """Group events by run, in order (a run begins at its WorkflowStarted)."""
    runs: list[Run] = []
    for event in history:
        if isinstance(event, WorkflowStarted):
            runs.append(Run(len(runs) + 1, event.run_id, event.name, []))
        elif not runs:
            runs.append(Run(1, event.run_id, "?", []))
        runs[-1].events.append(event)
    return runs


_KIND: dict[type[Event], str] = {
    ActivityScheduled: "activity",
    TimerStarted: "timer",
    TimeoutStarted: "timeout",
    SignalAwaited: "signal",
    SignalSent: "send",
    ChildStarted: "child",
    ChildAwaited: "child",
    GroupStarted: "group",
}


def _span_name(event: CommandEvent) -> str:
    if isinstance(event, TimerStarted | TimeoutStarted):
        return f"{'sleep' if isinstance(event, TimerStarted) else 'deadline'} {event.seconds:g}s"
    if isinstance(event, ChildStarted | ChildAwaited):
        return event.child_id
    if isinstance(event, GroupStarted):
        return f"collect_{event.name}"
    return str(getattr(event, "name", ""))


def command_spans(events: Sequence[Event]) -> list[Span]:
    """Spans of the commands of one run, in ordinal order."""
    spans: dict[int, Span] = {}
    waiting: dict[str, list[Span]] = {}
    arrived: dict[str, list[datetime]] = {}

    sizes: dict[int, tuple[str, int]] = {}
    seqs = Seqs()
    current = 0

    def settle(ordinal: int, at: datetime, outcome: str) -> None:
        span = spans.get(ordinal)
        if span is not None and span.end is None:
            span.end, span.outcome = at, outcome
            seqs.end[ordinal] = current

    for event in events:
        current = event.seq
        kind = _KIND.get(type(event))
        if kind is not None and isinstance(event, CommandEvent):
            span = Span(event.ordinal, kind, _span_name(event), event.source, event.recorded_at)
            spans[event.ordinal] = span
            seqs.start[event.ordinal] = event.seq
            if isinstance(event, GroupStarted):
                sizes[event.ordinal] = (event.name, event.size)
            if isinstance(event, ChildStarted) and not event.awaited:
                span.end, span.outcome = event.recorded_at, "started"
            if isinstance(event, SignalAwaited):
                early = arrived.get(event.name)
                if early:
                    early.pop(0)
                    span.end, span.outcome = event.recorded_at, "received"
                else:
                    waiting.setdefault(event.name, []).append(span)
        elif isinstance(event, ActivityCompleted | ActivityFailed):
            owner = spans.get(event.ordinal)
            if owner is None:
                continue
            span = owner
            if isinstance(event, ActivityCompleted):
                span.attempts.append(Attempt(event.attempt, event.recorded_at, True, ""))
                settle(event.ordinal, event.recorded_at, "completed")
            else:
                detail = f"{event.error.type}: {event.error.message}"
                span.attempts.append(Attempt(event.attempt, event.recorded_at, False, detail))
                if event.retry_at is None:
                    settle(event.ordinal, event.recorded_at, "failed")
        elif isinstance(event, TimerFired):
            settle(event.ordinal, event.recorded_at, "fired")
        elif isinstance(event, CommandCancelled):
            settle(event.ordinal, event.recorded_at, "cancelled")
        elif isinstance(event, SignalDelivered):
            settle(event.ordinal, event.recorded_at, "delivered")
        elif isinstance(event, SignalDeliveryFailed):
            settle(event.ordinal, event.recorded_at, "undelivered")
        elif isinstance(event, ChildCompleted):
            settle(event.ordinal, event.recorded_at, "completed")
        elif isinstance(event, ChildFailed):
            settle(event.ordinal, event.recorded_at, event.status)
        elif isinstance(event, SignalReceived):
            queue = waiting.get(event.name)
            if queue:
                span = queue.pop(0)
                if span.end is None:
                    span.end, span.outcome = event.recorded_at, "received"
            else:
                arrived.setdefault(event.name, []).append(event.recorded_at)
    ordered = [spans[o] for o in sorted(spans)]
    _settle_groups(ordered, sizes, seqs)
    return ordered


def _settle_groups(ordered: list[Span], sizes: dict[int, tuple[str, int]], seqs: Seqs) -> None:
    """End each ``collect_*`` span when its own members settled, not when the run did.

    A group's members take the ordinals right after it (a member that is a
    group or a ``with_timeout`` takes its own members' too), and nothing else
    is issued while it is open, so its members are the subtrees that follow
    it. Every member is issued at once, except in ``collect_map`` with a
    concurrency limit, which issues the next call when one completes and
    stops issuing at the first failure: a later command issued after that
    failure is the workflow's own, not the group's.
    """

    def subtree(n: int) -> int:
        """The position just past the subtree that starts at position ``n``."""
        span = ordered[n]
        if span.kind == "timeout":
            return subtree(n + 1) if n + 1 < len(ordered) else n + 1
        if span.kind != "group" or span.ordinal not in sizes:
            return n + 1
        mode, size = sizes[span.ordinal]
        members: list[Span] = []
        position, count, stop_after = n + 1, 0, None
        while count < size and position < len(ordered):
            candidate = ordered[position]
            if stop_after is not None and seqs.start[candidate.ordinal] > stop_after:
                break  # issued after the group failed: the workflow's own next command
            end = subtree(position)
            members.extend(ordered[position:end])
            failed = [
                seqs.end[m.ordinal]
                for m in ordered[position:end]
                if m.outcome == "failed" and m.ordinal in seqs.end
            ]
            if mode == "map" and failed:
                first = min(failed)
                stop_after = first if stop_after is None else min(stop_after, first)
            position, count = end, count + 1
        if span.end is None and members and all(m.end is not None for m in members):
            span.end = max(m.end for m in members if m.end is not None)
            span.outcome = "settled"
        elif span.end is None and size == 0:
            span.end, span.outcome = span.start, "settled"
        return position

    n = 0
    while n < len(ordered):
        n = subtree(n)


@attrs.define
class Seqs:
    """Where each command's first decision and final outcome sit in the history."""

    start: dict[int, int] = attrs.field(factory=dict)
    end: dict[int, int] = attrs.field(factory=dict)


# --- formatting -------------------------------------------------------------------


def fmt_duration(delta: timedelta | None) -> str:
    """A compact duration: ``0.25s``, ``30s``, ``2m05s``, ``3h02m``, ``2d04h``."""
    if delta is None:
        return "…"
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def fmt_clock(at: datetime, day: datetime) -> str:
    """Time of day to the millisecond, prefixed with the date when it is not ``day``'s."""
    at = at.astimezone(UTC)
    text = at.strftime("%H:%M:%S") + f".{at.microsecond // 1000:03d}"
    return text if at.date() == day.astimezone(UTC).date() else at.strftime("%m-%d ") + text


def _what(event: Event) -> Text:
    """The name and payload summary, with the yielding source line beneath (dim)."""
    text = data(event_summary(event))
    source = getattr(event, "source", "")
    if source:
        text.append("\nat " + clean(source), style="dim")
    return text


def _timeline_table(run: Run) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
    table.add_column("seq", justify="right")
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("+rel", justify="right", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("#", justify="right")
    table.add_column("name · payload · source", overflow="fold")
    for event in run.events:
        ordinal = getattr(event, "ordinal", None)
        family = event.FAMILY
        style = {"decision": "cyan", "outcome": "green", "marker": "magenta"}[family]
        table.add_row(
            str(event.seq),
            fmt_clock(event.recorded_at, run.started),
            "+" + fmt_duration(event.recorded_at - run.started),
            data(kind_of(event), style),
            "" if ordinal is None else str(ordinal),
            _what(event),
        )
    return table


def _commands_table(spans: Sequence[Span], started: datetime) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("command")
    table.add_column("name")
    table.add_column("attempts", justify="right")
    table.add_column("outcome")
    table.add_column("at", justify="right")
    table.add_column("took", justify="right")
    for span in spans:
        outcome = span.outcome or "pending"
        style = {"failed": "red", "pending": "yellow", "cancelled": "yellow"}.get(outcome, "")
        attempts = str(len(span.attempts)) if span.kind == "activity" else ""
        table.add_row(
            str(span.ordinal),
            data(span.kind),
            data(span.name),
            attempts,
            data(outcome, style),
            "+" + fmt_duration(span.start - started),
            fmt_duration(span.duration),
        )
    return table


def timeline(workflow_id: str, history: Sequence[Event]) -> RenderableType:
    """The whole history: per run, the event timeline, then its commands with durations."""
    parts: list[RenderableType] = []
    runs = split_runs(history)
    for run in runs:
        title = (
            f"{workflow_id} · run {run.number} of {len(runs)} · {run.workflow_type} · "
            f"{run.run_id} · started {fmt_time(run.started)} UTC"
        )
        parts.append(data(title, "bold"))
        parts.append(_timeline_table(run))
        spans = command_spans(run.events)
        if spans:
            parts.append(Text(""))
            parts.append(_commands_table(spans, run.started))
        retried = [s for s in spans if any(not a.ok for a in s.attempts)]
        for span in retried:
            for attempt in span.attempts:
                mark = "ok" if attempt.ok else attempt.detail
                line = (
                    f"  #{span.ordinal} {span.name} attempt {attempt.number} "
                    f"at +{fmt_duration(attempt.at - run.started)}: {mark}"
                )
                parts.append(data(line, "dim"))
        parts.append(Text(""))
    return Group(*parts)
