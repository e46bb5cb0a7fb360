"""The derived in-memory index both stores keep: heads, status and pending timers.

Everything here is a projection of the events table and is rebuilt from it on
open; it answers the questions asked often (optimistic-concurrency heads,
`list`, due timers) without a query per question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from aion._errors import HistoryError, SequenceConflict
from aion._events import (
    STATUS_AFTER,
    TERMINAL_STATUSES,
    TIMER_ENDS,
    TIMER_KINDS,
    Event,
    WorkflowStalled,
    WorkflowStarted,
    armed_timer,
    disarms_timer,
    status_after,
)
from aion.store._protocol import Append, TimerInfo, WorkflowInfo

#: Kinds that may change a status or a pending timer (`status_after`, `armed_timer`,
#: `disarms_timer`); any other event moves only the head (an activity's call, mostly).
_INDEXED: frozenset[str] = frozenset({*STATUS_AFTER, *TIMER_KINDS, *TIMER_ENDS})


class _Entry:
    __slots__ = (
        "closed_at",
        "last_seq",
        "parent_id",
        "run_id",
        "runs",
        "stalled_reason",
        "started_at",
        "status",
        "workflow_type",
    )

    def __init__(self) -> None:
        self.last_seq = 0
        self.run_id = ""
        self.workflow_type = ""
        self.status = "running"
        self.started_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.parent_id: str | None = None
        self.stalled_reason: str | None = None
        self.runs = 0


class WorkflowIndex:
    """Heads, status projection and pending timers of every workflow in a store."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        # workflow id -> (run id, ordinal) -> timer
        self._timers: dict[str, dict[tuple[str, int], TimerInfo]] = {}
        # workflow id -> why its history cannot be read (a row that does not decode)
        self._damaged: dict[str, str] = {}

    def check(self, batch: Sequence[Append]) -> None:
        """Raise `SequenceConflict` or `HistoryError` if any append in ``batch`` is invalid."""

        def last_seq(workflow_id: str) -> int:
            entry = self._entries.get(workflow_id)
            return entry.last_seq if entry else 0

        check_appends(batch, last_seq)

    def observe(self, workflow_id: str, events: Iterable[Event]) -> None:
        """Fold appended (or loaded) events into the index."""
        entry = self._entries.get(workflow_id)
        if entry is None:
            entry = self._entries[workflow_id] = _Entry()
        known = self._timers.get(workflow_id)
        timers = known if known is not None else {}
        for event in events:
            entry.last_seq = event.seq
            if type(event).__name__ not in _INDEXED:
                continue
            status = status_after(event)
            if status is not None:
                if isinstance(event, WorkflowStarted):
                    entry.run_id = event.run_id
                    entry.workflow_type = event.name
                    entry.runs += 1
                    if entry.started_at is None:
                        entry.started_at = event.recorded_at
                        entry.parent_id = event.parent_id
                entry.status = status
                entry.stalled_reason = event.reason if isinstance(event, WorkflowStalled) else None
                if status in TERMINAL_STATUSES or status == "continued_as_new":
                    entry.closed_at = event.recorded_at if status in TERMINAL_STATUSES else None
                    timers.clear()
                continue
            armed = armed_timer(event)
            if armed is not None:
                key = (event.run_id, getattr(event, "ordinal", 0))
                timers[key] = TimerInfo(
                    workflow_id=workflow_id,
                    run_id=event.run_id,
                    ordinal=key[1],
                    fire_at=armed[1],
                    kind=armed[0],
                )
            elif disarms_timer(event):
                timers.pop((event.run_id, getattr(event, "ordinal", 0)), None)
        if (
            not timers or workflow_id in self._damaged
        ):  # no empty dict per workflow: 100,000 workflows would keep 10 MB of them
            self._timers.pop(workflow_id, None)
        elif known is None:
            self._timers[workflow_id] = timers

    def set_head(self, workflow_id: str, last_seq: int) -> None:
        """Record a workflow's head (bulk loads observe only lifecycle events)."""
        entry = self._entries.get(workflow_id)
        if entry is None:
            entry = self._entries[workflow_id] = _Entry()
        entry.last_seq = last_seq

    def damage(self, workflow_id: str, reason: str, *, fallback: WorkflowInfo) -> None:
        """Mark a workflow whose history does not decode: stalled with ``reason``, no timers.

        It stays listed (``aion list`` shows why), its timers never fire, and the
        fields its unreadable rows should have given come from ``fallback``.
        """
        self._damaged.setdefault(workflow_id, reason)
        self._timers.pop(workflow_id, None)
        entry = self._entries.get(workflow_id)
        if entry is None:
            entry = self._entries[workflow_id] = _Entry()
        entry.last_seq = max(entry.last_seq, fallback.last_seq)
        if entry.started_at is None:
            entry.started_at = fallback.started_at
            entry.run_id = entry.run_id or fallback.run_id
            entry.workflow_type = entry.workflow_type or fallback.workflow_type
            entry.runs = max(entry.runs, 1)

    def damaged(self, workflow_id: str) -> str | None:
        """Why a workflow's history cannot be read, or None when it can."""
        return self._damaged.get(workflow_id)

    def add_timer(self, timer: TimerInfo) -> None:
        """Record a pending timer found by a bulk load."""
        if timer.workflow_id in self._damaged:
            return
        per_workflow = self._timers.setdefault(timer.workflow_id, {})
        per_workflow[(timer.run_id, timer.ordinal)] = timer

    def info(self, workflow_id: str) -> WorkflowInfo | None:
        """The visibility record of one workflow."""
        entry = self._entries.get(workflow_id)
        if entry is None or entry.started_at is None:
            return None
        damage = self._damaged.get(workflow_id)
        return WorkflowInfo(
            workflow_id=workflow_id,
            run_id=entry.run_id,
            workflow_type=entry.workflow_type,
            status=entry.status if damage is None else "stalled",
            started_at=entry.started_at,
            closed_at=entry.closed_at if damage is None else None,
            last_seq=entry.last_seq,
            parent_id=entry.parent_id,
            stalled_reason=entry.stalled_reason if damage is None else damage,
            runs=entry.runs,
        )

    def last_seq(self, workflow_id: str) -> int:
        """The head of a workflow's history (0 when unknown)."""
        entry = self._entries.get(workflow_id)
        return entry.last_seq if entry else 0

    def workflows(
        self, *, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Visibility records, oldest first, then by id."""
        out = []
        damaged = self._damaged
        for workflow_id, entry in self._entries.items():
            # Filtered on the entry first: a record is built only for what is returned
            # (a poll for the completed ones among 100,000 running built them all).
            if status is not None and status != (
                entry.status if workflow_id not in damaged else "stalled"
            ):
                continue
            if workflow_type is not None and entry.workflow_type != workflow_type:
                continue
            info = self.info(workflow_id)
            if info is None:
                continue
            out.append(info)
        out.sort(key=lambda i: (i.started_at, i.workflow_id))
        return out

    def due_timers(self, now: datetime | None = None) -> list[TimerInfo]:
        """Pending timers, earliest first; only those due at ``now`` when given."""
        timers = [
            t
            for per_workflow in self._timers.values()
            for t in per_workflow.values()
            if now is None or t.fire_at <= now
        ]
        timers.sort(key=lambda t: (t.fire_at, t.workflow_id, t.ordinal))
        return timers


def check_appends(batch: Sequence[Append], last_seq: Callable[[str], int]) -> None:
    """The one rule every store applies to a batch before writing it.

    Each append must expect the workflow's current head (``last_seq``, moved
    along by earlier appends in the same batch), carry contiguous seqs, and a
    new history must begin with `WorkflowStarted`. Shared so that DuckDB,
    memory and PostgreSQL refuse exactly the same batches.

    Raises:
        SequenceConflict: An append expects another head.
        HistoryError: Its seqs are not contiguous, or a new history does not start.
    """
    heads: dict[str, int] = {}
    for item in batch:
        head = heads.get(item.workflow_id)
        if head is None:
            head = last_seq(item.workflow_id)
        if head != item.expected_seq:
            raise SequenceConflict(item.workflow_id, item.expected_seq, head)
        for offset, event in enumerate(item.events, start=1):
            if event.seq != head + offset:
                msg = (
                    f"append to workflow {item.workflow_id!r} is not contiguous: "
                    f"expected seq {head + offset}, got {event.seq}."
                )
                raise HistoryError(msg)
        if head == 0 and item.events and not isinstance(item.events[0], WorkflowStarted):
            msg = f"the history of {item.workflow_id!r} must begin with WorkflowStarted."
            raise HistoryError(msg)
        heads[item.workflow_id] = head + len(item.events)
