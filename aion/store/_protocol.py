"""The store interface every history backend implements.

A store keeps one append-only history per workflow id. Appends are atomic
across workflows (so an engine commits many workflows' progress in one
transaction) and optimistic: each names the last seq it expects, and a
mismatch raises `SequenceConflict` with nothing written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from aion._events import Event


@attrs.frozen(kw_only=True)
class Append:
    """Events to add to one workflow's history.

    Attributes:
        workflow_id: The workflow.
        expected_seq: The last seq the writer believes is stored (0 for a new workflow).
        events: Events with seqs ``expected_seq + 1`` onwards, contiguous.
    """

    workflow_id: str
    expected_seq: int
    events: Sequence[Event]


@attrs.frozen(kw_only=True)
class WorkflowInfo:
    """A workflow's visibility record: the status projection of its history.

    Attributes:
        workflow_id: The id.
        run_id: The current (latest) run.
        workflow_type: The registered workflow name of the current run.
        status: ``running``, ``completed``, ``failed``, ``cancelled``, ``stalled``
            or ``continued_as_new`` (only between a run's end and its successor).
        started_at: When the first run started.
        closed_at: When the workflow reached a terminal status, if it did.
        last_seq: The highest seq in its history.
        parent_id: The parent workflow, for children.
        stalled_reason: Why it is stalled, if it is.
        runs: How many runs (continue-as-new) it has had.
    """

    workflow_id: str
    run_id: str
    workflow_type: str
    status: str
    started_at: datetime
    closed_at: datetime | None
    last_seq: int
    parent_id: str | None = None
    stalled_reason: str | None = None
    runs: int = 1


@attrs.frozen(kw_only=True)
class TimerInfo:
    """A pending durable timer: a sleep, a with_timeout deadline or an activity retry.

    Attributes:
        workflow_id: The owning workflow.
        run_id: The owning run.
        ordinal: The command the timer belongs to.
        fire_at: When it is due.
        kind: ``sleep``, ``timeout`` or ``retry``.
    """

    workflow_id: str
    run_id: str
    ordinal: int
    fire_at: datetime
    kind: str


@runtime_checkable
class Store(Protocol):
    """What the engine, the replayer and the CLI need from a history store."""

    def append(self, batch: Sequence[Append]) -> None:
        """Append events to several workflows atomically, or raise and write nothing."""
        ...

    def history(self, workflow_id: str) -> list[Event]:
        """All events of a workflow, every run, in seq order ([] when unknown)."""
        ...

    def histories(self, workflow_ids: Iterable[str] | None = None) -> dict[str, list[Event]]:
        """Many histories in one read (all workflows when ``workflow_ids`` is None)."""
        ...

    def info(self, workflow_id: str) -> WorkflowInfo | None:
        """The visibility record of one workflow, or None when unknown."""
        ...

    def workflows(
        self, *, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Visibility records, oldest first, optionally filtered."""
        ...

    def due_timers(self, now: datetime | None = None) -> list[TimerInfo]:
        """Pending timers (all of them, or those due at ``now``), earliest first."""
        ...

    def close(self) -> None:
        """Release the store's resources."""
        ...
