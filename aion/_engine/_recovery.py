"""Recovery at open: replay every unfinished workflow and pick up where it stopped.

Histories are read in bulk (chunked, so memory stays bounded with
`max_resident`), each open run is revived by replay, and what it left
pending is acted on again: timers re-armed, activities without a final
outcome re-dispatched, finished children reported, and a continue-as-new
whose successor was never written gets it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from aion._engine._effects import expand
from aion._engine._instance import Instance, revive
from aion._engine._log import recovered
from aion._engine._runtime import Runtime
from aion._events import Decision, Event, WorkflowContinuedAsNew, WorkflowStalled, WorkflowStarted
from aion.store import Store, WorkflowInfo

#: Workflows whose histories recovery reads per query (bounds the transient memory).
RECOVERY_CHUNK: Final = 2_000


#: The statuses of a workflow that recovery takes back into memory.
OPEN_STATUSES: Final = ("running", "stalled", "continued_as_new")


def recover(runtime: Runtime) -> None:
    """Replay every unfinished workflow of the store and pick up where it stopped."""
    began = time.monotonic()
    open_infos = [i for i in runtime.store.workflows() if i.status in OPEN_STATUSES]
    adopt(runtime, open_infos)
    recovered(len(open_infos), time.monotonic() - began)


def adopt(runtime: Runtime, open_infos: Sequence[WorkflowInfo]) -> None:
    """Take these unfinished workflows into memory from history and pick up where each stopped.

    Recovery adopts every open workflow of the store; a worker that shares a
    database with others adopts only the workflows it owns (and lets go of
    one with `Runtime.release`). The runtime's lock must be held.
    """
    state = runtime.state
    store = state.store
    if not open_infos:
        return
    ids = [i.workflow_id for i in open_infos]
    histories = ChunkedHistories(store, ids, before_chunk=runtime.trim)
    timers: dict[str, list[Any]] = {}
    for timer in store.due_timers():
        timers.setdefault(timer.workflow_id, []).append(timer)
    for info in open_infos:
        history = histories.get(info.workflow_id, [])
        if not history:  # a row the store cannot decode: the workflow stays stalled, with why
            damaged = store.info(info.workflow_id)
            reason = damaged.stalled_reason if damaged is not None else None
            if reason and reason != info.stalled_reason:
                stall = Decision(kind=WorkflowStalled, fields={"reason": reason})
                state.enqueue(info.workflow_id, stall)
            continue
        inst = revive(state.registry, state.enqueue, info.workflow_id, history, previous=info)
        state.instances[info.workflow_id] = inst
        _trace_adopted(runtime, info.workflow_id, history)
        state.heads[info.workflow_id] = info.last_seq
        runtime.collect(inst)
        if info.status == "continued_as_new" and inst.interp is not None:
            _start_successor(runtime, inst, history[-1])
            continue
        if inst.interp is None or inst.interp.status != "running":
            continue
        for timer in timers.get(info.workflow_id, []):
            if timer.run_id == inst.run_id:
                runtime.timers.arm(
                    (info.workflow_id, timer.run_id, timer.ordinal), timer.fire_at, timer.kind
                )
        for key, spec in inst.activities.items():
            runtime.attempts.keep(key, spec)
            if not spec.waiting_retry:
                runtime.attempts.dispatch(key, spec, spec.attempts + 1)
        for ordinal, child_id in inst.interp.pending_children().items():
            runtime.check_child(inst, ordinal, child_id)
    runtime.trim()


def _trace_adopted(runtime: Runtime, workflow_id: str, history: Sequence[Event]) -> None:
    """Open the span of an adopted workflow's current run at its recorded start."""
    for event in reversed(history):
        if isinstance(event, WorkflowStarted):
            runtime.tracing.run_started(
                workflow_id, event.run_id, event.name, event.recorded_at, recovered=True
            )
            return


def _start_successor(runtime: Runtime, inst: Instance, ended: Event) -> None:
    """Start the run a continue-as-new recorded without its successor (a torn commit)."""
    if not isinstance(ended, WorkflowContinuedAsNew):
        return
    fields = {"args": ended.args, "new_run_id": ended.new_run_id}
    decision = Decision(kind=WorkflowContinuedAsNew, fields=fields)
    expand(runtime.state, inst.workflow_id, decision, runtime.state.enqueue)


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
