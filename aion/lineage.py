"""New runs rebuilt from recorded history: reset, fork and retry.

A reset (same workflow id) or a fork (a new workflow id) starts a new run
whose history begins with copies of an existing run's events up to a seq:
the started event (same input and code, with an `Origin` naming where it
came from) and every command and outcome after it up to that seq, keeping
their ordinals and recorded times (the start's too, so `now()` repeats).
Replaying the new run therefore reuses
those recorded outcomes (nothing before the seq runs again) and continues
live from there: commands whose outcome lay after the seq are re-executed
(an activity dispatched again, a timer re-armed, a signal awaited again).
The old run stays in history, readable as before.

These functions only build events; `aion.Engine.reset` / `fork` / `retry`
record them (a worker then drives the new run) and ``aion reset`` / ``aion
fork`` / ``aion retry`` write them into a file no worker holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from aion._errors import HistoryError
from aion._events import (
    TERMINAL_TYPES,
    ActivityFailed,
    CommandCancelled,
    CommandEvent,
    Event,
    Origin,
    WorkflowCancelled,
    WorkflowFailed,
    WorkflowResumed,
    WorkflowStalled,
    WorkflowStarted,
)

#: Markers a copied prefix leaves out: they frame the old run, not the new one.
_NOT_COPIED = (WorkflowStalled, WorkflowResumed)


def _run_at(history: Sequence[Event], seq: int) -> tuple[WorkflowStarted, list[Event]]:
    """The run holding ``seq``: its started event and its events up to ``seq``."""
    if not history or not 1 <= seq <= history[-1].seq:
        last = history[-1].seq if history else 0
        msg = f"seq {seq} is not in the history (seqs 1..{last})."
        raise HistoryError(msg)
    start = None
    for event in history:
        if event.seq > seq:
            break
        if isinstance(event, WorkflowStarted):
            start = event
    assert start is not None  # seq >= 1 and a history begins with WorkflowStarted
    events = [e for e in history if start.seq < e.seq <= seq and e.run_id == start.run_id]
    ends = [e for e in events if isinstance(e, TERMINAL_TYPES)]
    if ends:
        msg = (
            f"seq {seq} is at or after the end of its run (seq {ends[0].seq}, "
            f"{type(ends[0]).__name__}); choose a seq before it."
        )
        raise HistoryError(msg)
    return start, events


def _child_prefix(workflow_id: str, started: WorkflowStarted) -> str:
    origin = started.origin
    if origin is not None:
        return origin.child_prefix
    if started.previous_run_id is None:
        return workflow_id
    return f"{workflow_id}/{started.run_id[:8]}"


def rebuilt_run(
    workflow_id: str,
    history: Sequence[Event],
    seq: int,
    *,
    new_workflow_id: str | None = None,
    first_seq: int | None = None,
    new_run_id: str | None = None,
    now: datetime | None = None,
    skip_failures_of: int | None = None,
) -> list[Event]:
    """The events of a new run rebuilt from ``history`` up to ``seq``.

    Args:
        workflow_id: The workflow ``history`` belongs to.
        history: Its whole history (every run).
        seq: The last event copied; it must lie before its run's end.
        new_workflow_id: A fork's workflow id (None: a reset, same id).
        first_seq: The seq of the new run's first event (default: after the
            history's head for a reset, 1 for a fork).
        new_run_id: The new run's id (default: a fresh UUID).
        now: The new run's start time (default: the origin run's, so that a
            `now()` taken before the first outcome replays to the same value).
        skip_failures_of: Leave out the failed attempts of this ordinal (a
            retry gives the call its whole retry budget again).

    Raises:
        aion.HistoryError: ``seq`` is not in the history, or at/after its run's end.
    """
    started, events = _run_at(history, seq)
    target = new_workflow_id or workflow_id
    run_id = new_run_id or str(uuid.uuid4())
    copied = [
        e
        for e in events
        if not isinstance(e, _NOT_COPIED)
        and not (isinstance(e, ActivityFailed) and e.ordinal == skip_failures_of)
    ]
    ordinals = [e.ordinal for e in copied if isinstance(e, CommandEvent)]
    origin = started.origin or Origin(
        workflow_id=workflow_id,
        run_id=started.run_id,
        seq=seq,
        child_prefix=_child_prefix(workflow_id, started),
    )
    origin = attrs.evolve(
        origin, seq=seq, last_ordinal=max([origin.last_ordinal if started.origin else 0, *ordinals])
    )
    if first_seq is None:
        first_seq = 1 if new_workflow_id is not None else history[-1].seq + 1
    fork = new_workflow_id is not None
    head: dict[str, Any] = {
        "seq": first_seq,
        "run_id": run_id,
        # The origin's start time, kept: `now()` before the first outcome repeats it.
        "recorded_at": now or started.recorded_at,
        "workflow_id": target,
        "previous_run_id": None if fork else history_run(history),
        "origin": origin,
    }
    if fork:
        head.update(parent_id=None, parent_run_id=None, parent_ordinal=None)
    out: list[Event] = [attrs.evolve(started, **head)]
    for offset, event in enumerate(copied, start=1):
        out.append(attrs.evolve(event, seq=first_seq + offset, run_id=run_id))
    return out


def history_run(history: Sequence[Event]) -> str:
    """The id of the latest run in ``history``."""
    starts = [e for e in history if isinstance(e, WorkflowStarted)]
    if not starts:
        msg = "the history holds no WorkflowStarted."
        raise HistoryError(msg)
    return starts[-1].run_id


def retry_point(history: Sequence[Event]) -> tuple[int, int | None]:
    """Where `aion.Engine.retry` rebuilds a failed run from: ``(seq, ordinal)``.

    If the run's last activity call ended in a final failure, the new run
    keeps everything before that failure and leaves out the call's failed
    attempts, so the activity is attempted again with its whole retry
    budget (the usual fix: the outside world or the activity's code was
    repaired). Otherwise (the workflow code itself raised) it keeps
    everything before the failure, so the code runs on from there (the fix:
    deployed code).

    Raises:
        aion.HistoryError: The latest run did not fail.
    """
    if not history or not isinstance(history[-1], WorkflowFailed):
        msg = (
            "only a failed workflow can be retried (its latest run did not fail; "
            "a stalled one resumes with `aion resume ID` / Engine.resume)."
        )
        raise HistoryError(msg)
    end = history[-1]
    run = [e for e in history if e.run_id == end.run_id]
    finals = [e for e in run if isinstance(e, ActivityFailed) and e.retry_at is None]
    if finals:
        last = finals[-1]
        return last.seq - 1, last.ordinal
    # Before the cancellations the ending decided with its failure (they are redecided).
    seq = end.seq - 1
    for event in reversed(run[:-1]):
        if not isinstance(event, CommandCancelled):
            break
        seq = event.seq - 1
    return seq, None


def ended_for_reset(history: Sequence[Event], reason: str) -> WorkflowCancelled | None:
    """The end a still-open current run gets before a reset starts its new run (or None)."""
    last = history[-1]
    if isinstance(last, TERMINAL_TYPES):
        return None
    return WorkflowCancelled(
        seq=last.seq + 1,
        run_id=history_run(history),
        recorded_at=datetime.now(UTC),
        reason=reason,
        terminated=True,
    )


def reset_events(
    workflow_id: str,
    history: Sequence[Event],
    seq: int,
    reason: str,
    skip_failures_of: int | None = None,
) -> list[Event]:
    """What a reset (or retry) appends to ``history``: the open run's end, then the new run.

    The end (`ended_for_reset`) is left out when the current run has ended
    already; the new run (`rebuilt_run`) follows it in seq order. The new
    run's id is that of the first event after the end.
    """
    end = ended_for_reset(history, reason)
    events = rebuilt_run(
        workflow_id,
        history,
        seq,
        first_seq=history[-1].seq + (2 if end is not None else 1),
        skip_failures_of=skip_failures_of,
    )
    return ([end] if end is not None else []) + events


__all__ = ["ended_for_reset", "history_run", "rebuilt_run", "reset_events", "retry_point"]
