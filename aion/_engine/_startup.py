"""Recovery at open: replay every unfinished workflow and pick up where it stopped.

Histories are read in bulk (chunked, so memory stays bounded with
`max_resident`), each open run is revived by replay, and what it left
pending is acted on again: timers re-armed, activities without a final
outcome re-dispatched, finished children reported, and a continue-as-new
whose successor was never written gets it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aion._engine._effects import expand
from aion._engine._recovery import Instance, revive
from aion._engine._residency import ChunkedHistories
from aion._events import Event, WorkflowContinuedAsNew, WorkflowStalled

if TYPE_CHECKING:
    from aion._engine._runtime import Runtime


def _start_successor(self: Runtime, inst: Instance, ended: Event) -> None:
    """Start the run a continue-as-new recorded without its successor (a torn commit)."""
    if not isinstance(ended, WorkflowContinuedAsNew):
        return

    def add(workflow_id: str, cls: type[Event], fields: dict[str, Any]) -> None:
        self._enqueue(workflow_id, cls, fields)

    expand(
        self,
        inst.workflow_id,
        WorkflowContinuedAsNew,
        {"args": ended.args, "new_run_id": ended.new_run_id},
        add,
    )


def recover(self: Runtime) -> None:
    """Replay every unfinished workflow and pick up where it stopped."""
    open_infos = [
        i for i in self.store.workflows() if i.status in ("running", "stalled", "continued_as_new")
    ]
    if not open_infos:
        return
    ids = [i.workflow_id for i in open_infos]
    histories = ChunkedHistories(self.store, ids, before_chunk=self._trim_resident)
    timers: dict[str, list[Any]] = {}
    for timer in self.store.due_timers():
        timers.setdefault(timer.workflow_id, []).append(timer)
    for info in open_infos:
        history = histories.get(info.workflow_id, [])
        if not history:  # a row the store cannot decode: the workflow stays stalled, with why
            damaged = self.store.info(info.workflow_id)
            reason = damaged.stalled_reason if damaged is not None else None
            if reason and reason != info.stalled_reason:
                self._enqueue(info.workflow_id, WorkflowStalled, {"reason": reason})
            continue
        inst = revive(self, info.workflow_id, history, previous=info)
        self._instances[info.workflow_id] = inst
        self._heads[info.workflow_id] = info.last_seq
        self._collect(inst)
        if info.status == "continued_as_new" and inst.interp is not None:
            _start_successor(self, inst, history[-1])
            continue
        if inst.interp is None or inst.interp.status != "running":
            continue
        for timer in timers.get(info.workflow_id, []):
            if timer.run_id == inst.run_id:
                self._timers.arm(
                    (info.workflow_id, timer.run_id, timer.ordinal), timer.fire_at, timer.kind
                )
        for key, spec in inst.activities.items():
            self._specs[key] = spec
            if not spec.waiting_retry:
                self._dispatch(key, spec, spec.attempts + 1)
        for ordinal, child_id in inst.interp.pending_children().items():
            self._check_child(inst, ordinal, child_id)
    self._trim_resident()
