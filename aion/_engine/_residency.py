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

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from aion._engine._recovery import Instance, revive
from aion._events import Event
from aion.store import Append, Store

if TYPE_CHECKING:
    from aion._engine._engine import Engine

#: Workflows whose histories recovery reads per query (bounds the transient memory).
RECOVERY_CHUNK: Final = 2_000
# What an evicted workflow without children or pending activities points at: an empty
# list and dict per workflow are ~120 B, 12 MB at 100,000 evicted workflows.
_NO_CHILDREN: Final[list[str]] = []
_NO_ACTIVITIES: Final[dict[Any, Any]] = {}


class Residency:
    """Mixed into the runtime: which workflows are resident, eviction and waking."""

    store: Store
    _instances: dict[str, Instance]
    _queue: dict[str, list[Any]]
    _inflight: dict[Any, Any]
    _max_resident: int | None
    # Running workflows with an interpreter, least recently active first.
    _resident: dict[str, None]

    def _touch(self, inst: Instance) -> None:
        """Note that ``inst`` was just active (most recently used)."""
        if self._max_resident is None:
            return
        resident = self._resident
        resident.pop(inst.workflow_id, None)
        if inst.interp is not None and inst.interp.status == "running":
            resident[inst.workflow_id] = None

    def _idle(self, inst: Instance) -> bool:
        """Whether ``inst`` waits only on timers and signals (safe to evict)."""
        interp = inst.interp
        if interp is None or interp.status != "running" or inst.status != "running":
            return False
        if inst.workflow_id in self._queue or interp.new_decisions:
            return False
        return not (interp.pending_activities() or interp.pending_children())

    def _trim_resident(self) -> None:
        """Evict idle workflows, least recently active first, down to ``max_resident``."""
        limit = self._max_resident
        if limit is None:
            return
        resident = self._resident
        busy: list[str] = []
        while len(resident) > limit:
            workflow_id = next(iter(resident))
            del resident[workflow_id]
            inst = self._instances.get(workflow_id)
            if inst is None or inst.interp is None or inst.interp.status != "running":
                continue  # closed or stalled: no longer counted
            if self._idle(inst):
                inst.interp = None  # the generator, its frame and its nodes go with it
                if not inst.children:
                    inst.children = _NO_CHILDREN  # shared while evicted; _revive copies it
                if not inst.activities:
                    inst.activities = _NO_ACTIVITIES  # only revive() fills this, on a new Instance
            else:
                busy.append(workflow_id)
        for workflow_id in busy:
            resident[workflow_id] = None

    def _evicted(self, workflow_id: str) -> bool:
        inst = self._instances.get(workflow_id)
        return inst is not None and inst.interp is None and inst.status == "running"

    def _wake_evicted(self, batch: Sequence[Append]) -> None:
        """Replay evicted workflows that ``batch`` holds outcomes for, before it commits."""
        if self._max_resident is None:
            return
        waking = [item.workflow_id for item in batch if self._evicted(item.workflow_id)]
        if not waking:
            return
        histories = self.store.histories(waking)
        for workflow_id in waking:
            self._revive(workflow_id, histories.get(workflow_id, []))

    def _revive(self, workflow_id: str, history: Sequence[Event]) -> None:
        engine: Engine = self  # type: ignore[assignment]
        inst = revive(engine, workflow_id, history)
        old = self._instances.get(workflow_id)
        if old is not None and old.children:
            inst.children = list(old.children)
        self._instances[workflow_id] = inst
        self._collect(inst)

    def _collect(self, inst: Instance) -> None:  # pragma: no cover - defined by the runtime
        raise NotImplementedError


class ChunkedHistories:
    """``histories.get(workflow_id)`` over many workflows, read a chunk per query.

    Workflows must be asked for in the order given; each chunk is read when its
    first workflow is asked for, and the previous chunk is dropped.

    Args:
        store: Where the histories are.
        workflow_ids: Every workflow to be read, in the order they will be asked for.
        before_chunk: Called before each read (the runtime trims its resident set).
        size: Workflows per query.
    """

    def __init__(
        self,
        store: Store,
        workflow_ids: Sequence[str],
        before_chunk: Callable[[], None],
        size: int = RECOVERY_CHUNK,
    ) -> None:
        self._store = store
        self._chunks: Iterator[Sequence[str]] = (
            workflow_ids[i : i + size] for i in range(0, len(workflow_ids), size)
        )
        self._before = before_chunk
        self._current: dict[str, list[Event]] = {}
        self._members: set[str] = set()

    def get(self, workflow_id: str, default: list[Event]) -> list[Event]:
        """The history of ``workflow_id`` (``default`` when the store has none)."""
        while workflow_id not in self._members:
            chunk = next(self._chunks, None)
            if chunk is None:
                return default
            self._current = {}  # drop the previous chunk before reading the next
            self._before()
            self._members = set(chunk)
            self._current = self._store.histories(chunk)
        return self._current.pop(workflow_id, default)
