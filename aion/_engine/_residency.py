"""Bounded residency: evict idle workflows, rebuild them by replay when they wake.

A sleeping workflow costs memory only for its live generator and interpreter;
its history is on disk and its timers are in the engine's timer queue. With
``Engine(max_resident=N)`` the engine keeps at most N running workflows in
memory. When more are resident, the least recently active *idle* ones (waiting
only on timers and signals: no activity in flight, no child awaited, nothing
queued for them) give up their interpreter. Their `Instance` stays (run id,
status), so timers, signals and cancellations still find them; their timers
stay armed.

An outcome for an evicted workflow wakes it before the batch holding that
outcome is committed: its history (which does not hold the batch yet) is read
for all waking workflows in one query and replayed, so the interpreter is
exactly where it was, and the committed outcome is then applied as for any
resident workflow. Recovery reads histories in chunks for the same reason:
memory stays bounded by the chunk plus the resident set, not by the file.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from aion._engine._instance import Instance
from aion._errors import ConfigurationError
from aion._events import Event

# What an evicted workflow without children or pending activities points at: an empty
# list and dict per workflow are ~120 B, 12 MB at 100,000 evicted workflows.
_NO_CHILDREN: Final[list[str]] = []
_NO_ACTIVITIES: Final[dict[Any, Any]] = {}

#: Reads the histories of many workflows in one query.
Histories = Callable[[Sequence[str]], Mapping[str, list[Event]]]
#: Rebuilds one workflow from its history (the runtime replays and registers it).
Revive = Callable[[str, Sequence[Event]], None]


class Residency:
    """Which running workflows hold an interpreter: eviction, and waking by replay.

    Args:
        max_resident: The most running workflows kept with an interpreter
            (None: no limit, and nothing is ever evicted).
        histories: How histories are read (the store's bulk read).
        revive: How a workflow is rebuilt from its history.

    Raises:
        aion.ConfigurationError: ``max_resident`` is below 1.
    """

    def __init__(self, max_resident: int | None, histories: Histories, revive: Revive) -> None:
        if max_resident is not None and max_resident < 1:
            msg = f"max_resident must be at least 1 (or None for no limit), got {max_resident}."
            raise ConfigurationError(msg)
        self.max_resident = max_resident
        self._histories = histories
        self._revive = revive
        # Running workflows with an interpreter, least recently active first.
        self._lru: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._lru)

    def touch(self, inst: Instance) -> None:
        """Note that ``inst`` was just active (most recently used)."""
        if self.max_resident is None:
            return
        lru = self._lru
        lru.pop(inst.workflow_id, None)
        if inst.interp is not None and inst.interp.status == "running":
            lru[inst.workflow_id] = None

    def forget(self, workflow_id: str) -> None:
        """Stop counting ``workflow_id`` (it closed, or lost its interpreter otherwise)."""
        self._lru.pop(workflow_id, None)

    def trim(self, instances: Mapping[str, Instance], queued: Collection[str]) -> None:
        """Evict idle workflows, least recently active first, down to ``max_resident``.

        ``queued`` holds the workflows with decisions waiting for the next batch:
        those are not idle.
        """
        limit = self.max_resident
        if limit is None:
            return
        lru = self._lru
        busy: list[str] = []
        while len(lru) > limit:
            workflow_id = next(iter(lru))
            del lru[workflow_id]
            inst = instances.get(workflow_id)
            if inst is None or inst.interp is None or inst.interp.status != "running":
                continue  # closed or stalled: no longer counted
            if idle(inst, queued):
                evict(inst)
            else:
                busy.append(workflow_id)
        for workflow_id in busy:
            lru[workflow_id] = None

    def wake(self, instances: Mapping[str, Instance], workflow_ids: Iterable[str]) -> None:
        """Replay the evicted workflows among ``workflow_ids`` (one bulk read)."""
        if self.max_resident is None:
            return
        waking = [w for w in workflow_ids if evicted(instances.get(w))]
        if not waking:
            return
        histories = self._histories(waking)
        for workflow_id in waking:
            self._revive(workflow_id, histories.get(workflow_id, []))


def evict(inst: Instance) -> None:
    """Drop the interpreter of ``inst``: the generator, its frame and its nodes go with it."""
    inst.interp = None
    if not inst.children:
        inst.children = _NO_CHILDREN  # shared while evicted; reviving copies it
    if not inst.activities:
        inst.activities = _NO_ACTIVITIES  # only revive() fills this, on a new Instance


def evicted(inst: Instance | None) -> bool:
    """Whether ``inst`` is a running workflow without its interpreter."""
    return inst is not None and inst.interp is None and inst.status == "running"


def idle(inst: Instance, queued: Collection[str], *, children: bool = False) -> bool:
    """Whether ``inst`` waits only on timers and signals (safe to evict).

    With ``children``, waiting on a child counts as idle too: a cluster worker
    releasing a workflow (`aion._cluster._seam.release_idle`) may let a parent
    go, because a child's end reaches a parent its worker does not hold as an
    inbox message. Eviction may not: an evicted parent would not be told.
    """
    interp = inst.interp
    if interp is None or interp.status != "running" or inst.status != "running":
        return False
    if inst.workflow_id in queued or interp.new_decisions:
        return False
    if interp.pending_activities():
        return False
    return children or not interp.pending_children()
