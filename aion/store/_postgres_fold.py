"""Folding a batch into the rows the PostgreSQL store writes next to its events.

The store keeps the status projection (`WorkflowInfo`) and the pending timers
in tables written in the same transaction as the events, so every process
reading the database sees them consistent with history. This module computes
those writes from the locked current rows and the batch, with exactly the
rules of the shared in-memory index (`aion.store._index`), which the
stateful test holds both stores to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from aion._events import (
    TERMINAL_STATUSES,
    WorkflowStalled,
    WorkflowStarted,
    armed_timer,
    disarms_timer,
    kind_of,
    status_after,
)
from aion.store._index import check_appends
from aion.store._protocol import Append, TimerInfo


@attrs.define(kw_only=True)
class Row:
    """One workflow's projection row, as read (locked) or as it will be written."""

    workflow_id: str
    run_id: str = ""
    workflow_type: str = ""
    status: str = "running"
    started_at: datetime | None = None
    closed_at: datetime | None = None
    last_seq: int = 0
    parent_id: str | None = None
    stalled_reason: str | None = None
    runs: int = 0
    owner: int | None = None
    epoch: int = 0
    owner_live: bool = False
    new: bool = False


@attrs.define(kw_only=True)
class TimerOps:
    """What one batch does to one workflow's pending timers, in effect order."""

    clear: bool = False
    changes: dict[tuple[str, int], TimerInfo | None] = attrs.field(factory=dict)


def check(batch: Sequence[Append], rows: Mapping[str, Row]) -> None:
    """Raise `SequenceConflict` or `HistoryError` exactly as the in-memory index does."""

    def last_seq(workflow_id: str) -> int:
        row = rows.get(workflow_id)
        return row.last_seq if row else 0

    check_appends(batch, last_seq)


def fold(batch: Sequence[Append], rows: dict[str, Row]) -> dict[str, TimerOps]:
    """Apply ``batch`` to ``rows`` (adding new ones) and return the timer operations."""
    ops: dict[str, TimerOps] = {}
    for item in batch:
        if not item.events:
            continue
        row = rows.get(item.workflow_id)
        if row is None:
            row = rows[item.workflow_id] = Row(workflow_id=item.workflow_id, new=True)
        timers = ops.setdefault(item.workflow_id, TimerOps())
        for event in item.events:
            row.last_seq = event.seq
            status = status_after(event)
            if status is not None:
                if isinstance(event, WorkflowStarted):
                    row.run_id = event.run_id
                    row.workflow_type = event.name
                    row.runs += 1
                    if row.started_at is None:
                        row.started_at = event.recorded_at
                        row.parent_id = event.parent_id
                row.status = status
                row.stalled_reason = event.reason if isinstance(event, WorkflowStalled) else None
                if status in TERMINAL_STATUSES or status == "continued_as_new":
                    row.closed_at = event.recorded_at if status in TERMINAL_STATUSES else None
                    timers.clear = True
                    timers.changes.clear()
                continue
            key = (event.run_id, getattr(event, "ordinal", 0))
            armed = armed_timer(event)
            if armed is not None:
                timers.changes[key] = TimerInfo(
                    workflow_id=item.workflow_id,
                    run_id=event.run_id,
                    ordinal=key[1],
                    fire_at=armed[1],
                    kind=armed[0],
                )
            elif disarms_timer(event):
                timers.changes[key] = None
    return ops


def event_rows(batch: Sequence[Append], payload: Any) -> list[tuple[Any, ...]]:
    """The ``events`` table rows of ``batch`` (``payload`` encodes an event's payload)."""
    out: list[tuple[Any, ...]] = []
    for item in batch:
        for event in item.events:
            out.append(
                (
                    item.workflow_id,
                    event.seq,
                    event.run_id,
                    kind_of(event),
                    getattr(event, "ordinal", None),
                    getattr(event, "name", None),
                    payload(event),
                    event.recorded_at,
                    getattr(event, "source", None),
                    getattr(event, "digest", None),
                )
            )
    return out
