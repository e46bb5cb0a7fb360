"""`MemoryStore`: the reference store, kept in a dict (tests, `aion.testing`).

It is the model the DuckDB store is checked against, so it stays simple: a
lock, a dict of event lists and the shared index.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime

from aion._events import Event
from aion.store._index import WorkflowIndex
from aion.store._protocol import Append, TimerInfo, WorkflowInfo


class MemoryStore:
    """An in-memory history store with the same semantics as `DuckDBStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, list[Event]] = {}
        self._index = WorkflowIndex()

    def append(self, batch: Sequence[Append]) -> None:
        """Append atomically: validate the whole batch first, then apply it."""
        with self._lock:
            self._index.check(batch)
            for item in batch:
                self._events.setdefault(item.workflow_id, []).extend(item.events)
                self._index.observe(item.workflow_id, item.events)

    def history(self, workflow_id: str) -> list[Event]:
        """All events of a workflow in seq order ([] when unknown)."""
        with self._lock:
            return list(self._events.get(workflow_id, ()))

    def histories(self, workflow_ids: Iterable[str] | None = None) -> dict[str, list[Event]]:
        """Many histories at once."""
        with self._lock:
            ids = list(self._events) if workflow_ids is None else list(workflow_ids)
            return {w: list(self._events[w]) for w in ids if w in self._events}

    def info(self, workflow_id: str) -> WorkflowInfo | None:
        """The visibility record of one workflow."""
        with self._lock:
            return self._index.info(workflow_id)

    def workflows(
        self, *, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Visibility records, oldest first."""
        with self._lock:
            return self._index.workflows(status=status, workflow_type=workflow_type)

    def due_timers(self, now: datetime | None = None) -> list[TimerInfo]:
        """Pending timers, earliest first."""
        with self._lock:
            return self._index.due_timers(now)

    def close(self) -> None:
        """Nothing to release."""
