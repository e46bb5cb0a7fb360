"""The engine's in-memory timer wheel over durable timers.

Timers are durable because the event that arms them (TimerStarted,
TimeoutStarted, ActivityFailed with ``retry_at``) is in history; this heap only
decides when to act. Cancelled timers are dropped lazily when they surface.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection
from datetime import datetime

#: The command a timer, an activity attempt or a retry wait belongs to.
CommandKey = tuple[str, str, int]  # (workflow id, run id, ordinal)


class TimerQueue:
    """Pending timers ordered by due time."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, CommandKey, str]] = []
        self._live: dict[CommandKey, tuple[datetime, str]] = {}
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def arm(self, key: CommandKey, fire_at: datetime, kind: str) -> None:
        """Arm (or re-arm) the timer of ``key``."""
        self._live[key] = (fire_at, kind)
        heapq.heappush(self._heap, (fire_at, next(self._counter), key, kind))

    def disarm(self, key: CommandKey) -> None:
        """Forget the timer of ``key`` (no-op when none)."""
        self._live.pop(key, None)

    def disarm_workflow(self, workflow_id: str) -> None:
        """Forget every timer of ``workflow_id`` (a scan: for letting a workflow go)."""
        for key in [k for k in self._live if k[0] == workflow_id]:
            del self._live[key]

    def next_due(self) -> datetime | None:
        """When the earliest live timer is due, or None."""
        heap = self._heap
        while heap:
            fire_at, _, key, kind = heap[0]
            if self._live.get(key) == (fire_at, kind):
                return fire_at
            heapq.heappop(heap)
        return None

    def next_due_among(self, workflow_ids: Collection[str]) -> datetime | None:
        """When the earliest live timer of any of ``workflow_ids`` is due, or None.

        A scan of the live timers: it serves `run_until_complete`, which asks
        once per jump of a virtual clock, not the engine's step loop.
        """
        due = [at for (wid, _, _), (at, _) in self._live.items() if wid in workflow_ids]
        return min(due, default=None)

    def earliest_by_workflow(self) -> dict[str, datetime]:
        """Each workflow's earliest live timer (one scan, for a periodic sweep)."""
        out: dict[str, datetime] = {}
        for (workflow_id, _, _), (at, _) in self._live.items():
            seen = out.get(workflow_id)
            if seen is None or at < seen:
                out[workflow_id] = at
        return out

    def pop_due(self, now: datetime) -> list[tuple[CommandKey, str]]:
        """Remove and return every live timer due at ``now``, earliest first."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            fire_at, _, key, kind = heapq.heappop(heap)
            if self._live.get(key) == (fire_at, kind):
                del self._live[key]
                out.append((key, kind))
        return out
