"""Effects that are only events, written in the same batch as the decision causing them.

A child's start, a signal's delivery (or its failure), a continue-as-new
successor with the signals it carries over, a cancel cascading to children,
and a parent told that its child ended: none of these has a side effect
outside the store, so writing them with their decision makes them atomic
with it, and no crash can separate the two.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aion._engine._instance import Instance
from aion._engine._state import EngineState
from aion._events import (
    TERMINAL_STATUSES,
    CancelRequested,
    ChildCompleted,
    ChildFailed,
    ChildStarted,
    CommandCancelled,
    Decision,
    ErrorInfo,
    Event,
    SignalDelivered,
    SignalDeliveryFailed,
    SignalReceived,
    SignalSent,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStarted,
)

#: Where an effect goes: the batch being built, for the workflow named.
Add = Callable[[str, Decision], object]

#: The decisions `expand` adds effects for (batch building skips the call for the rest,
#: nearly every decision under load: activity calls, their outcomes, timers).
EXPANDED: frozenset[type[Event]] = frozenset(
    {
        ChildStarted,
        SignalSent,
        WorkflowContinuedAsNew,
        WorkflowCompleted,
        WorkflowFailed,
        WorkflowCancelled,
        CommandCancelled,
    }
)


def expand(state: EngineState, workflow_id: str, decision: Decision, add: Add) -> None:
    """Add to the batch the events ``decision`` causes directly (same transaction)."""
    cls, fields = decision.kind, decision.fields
    inst = state.instances.get(workflow_id)
    if cls is ChildStarted:
        child_id = fields["child_id"]
        if state.store.info(child_id) is None and child_id not in state.queue:
            add(
                child_id,
                Decision(
                    kind=WorkflowStarted,
                    fields={
                        "run_id": str(uuid.uuid4()),
                        "name": fields["name"],
                        "args": fields["args"],
                        "workflow_id": child_id,
                        "parent_id": workflow_id,
                        "parent_run_id": state.run_id(workflow_id),
                        "parent_ordinal": fields["ordinal"],
                        "code": state.code_of(fields["name"]),
                    },
                ),
            )
            state.queue.setdefault(child_id, [])
    elif cls is SignalSent:
        target = fields["target"]
        status = state.decided_end(target) or state.status(target)
        if status is None and target in state.queue:
            status = "running"
        if status is None or status in TERMINAL_STATUSES:
            reason = (
                f"workflow {target!r} does not exist"
                if status is None
                else f"workflow {target!r} is {status}"
            )
            add(
                workflow_id,
                Decision(
                    kind=SignalDeliveryFailed,
                    fields={"ordinal": fields["ordinal"], "reason": reason},
                ),
            )
        else:
            add(
                target,
                Decision(
                    kind=SignalReceived,
                    fields={
                        "name": fields["name"],
                        "payload": fields["payload"],
                        "sender": workflow_id,
                    },
                ),
            )
            add(workflow_id, Decision(kind=SignalDelivered, fields={"ordinal": fields["ordinal"]}))
    elif cls is WorkflowContinuedAsNew and inst is not None:
        add(
            workflow_id,
            Decision(
                kind=WorkflowStarted,
                fields={
                    "run_id": fields["new_run_id"],
                    "name": inst.name,
                    "args": fields["args"],
                    "workflow_id": workflow_id,
                    "parent_id": inst.parent_id,
                    "previous_run_id": inst.run_id,
                    "code": state.code_of(inst.name),
                },
            ),
        )
        interp = inst.interp
        carried = interp.unconsumed_signals() if interp is not None else []
        for name, payload in carried:
            add(
                workflow_id,
                Decision(
                    kind=SignalReceived, fields={"name": name, "payload": payload, "carried": True}
                ),
            )
        # A cancel request recorded after the decision takes effect in the successor.
        late_cancel = interp.unconsumed_cancel() if interp is not None else None
        if late_cancel is not None:
            late = {"reason": late_cancel.reason, "terminate": late_cancel.terminate}
            add(workflow_id, Decision(kind=CancelRequested, fields=late))
    elif cls in (WorkflowCompleted, WorkflowFailed, WorkflowCancelled) and inst is not None:
        _close_children(state, inst, cls, add)
        _notify_parent(state, inst, cls, fields, add)
    elif cls is CommandCancelled and inst is not None and inst.interp is not None:
        # A cancelled start-and-await cancels its child: the child compensates.
        child_id = inst.interp.child_started_by(fields["ordinal"])
        if child_id is not None:
            reason = f"parent {workflow_id!r} stopped waiting for it ({fields.get('reason', '')})"
            _cancel_child(state, child_id, reason, add)
    if cls is WorkflowContinuedAsNew and inst is not None:
        _close_children(state, inst, cls, add)


def _close_children(state: EngineState, inst: Instance, cls: type[Event], add: Add) -> None:
    """Apply the parent-close policy of the children the ending run started unawaited."""
    if inst.interp is None:
        return
    cancelled = cls is WorkflowCancelled
    how = {
        WorkflowCancelled: "was cancelled",
        WorkflowCompleted: "completed",
        WorkflowFailed: "failed",
    }.get(cls, "continued as new")
    for child_id in inst.interp.children_to_close(cancelled):
        _cancel_child(state, child_id, f"parent {inst.workflow_id!r} {how}", add)


def _cancel_child(state: EngineState, child_id: str, reason: str, add: Add) -> None:
    """Write a cancel request into a child that still runs (same transaction)."""
    child = state.instances.get(child_id)
    if child is not None and child.interp is not None and child.interp.status in TERMINAL_STATUSES:
        return  # its end is decided (in this very batch): nothing to cancel
    status = state.status(child_id)
    if status is None and child_id not in state.queue:
        return  # never started
    if status in TERMINAL_STATUSES:
        return
    add(child_id, Decision(kind=CancelRequested, fields={"reason": reason}))


def _notify_parent(
    state: EngineState,
    child: Instance,
    cls: type[Event],
    fields: dict[str, Any],
    add: Add,
) -> None:
    if child.parent_id is None:
        return
    parent = state.instances.get(child.parent_id)
    if parent is None or parent.interp is None or parent.interp.status != "running":
        return
    for ordinal, child_id in parent.interp.pending_children().items():
        if child_id == child.workflow_id:
            told = state.told.setdefault((parent.workflow_id, parent.run_id), set())
            if ordinal not in told:
                told.add(ordinal)
                add(parent.workflow_id, child_outcome(ordinal, child_id, cls, fields))


# --- after a commit: apply outcomes, act on decisions -------------------------


def child_outcome(
    ordinal: int, child_id: str, cls: type[Event], fields: dict[str, Any]
) -> Decision:
    """The parent-side outcome event for a child's terminal decision."""
    if cls is WorkflowCompleted:
        done = {"ordinal": ordinal, "child_id": child_id, "result": fields.get("result")}
        return Decision(kind=ChildCompleted, fields=done)
    if cls is WorkflowFailed:
        error = fields["error"]
        status = "failed"
    else:
        error = ErrorInfo(type="aion.Cancelled", message=fields.get("reason") or "cancelled")
        status = "cancelled"
    failed = {"ordinal": ordinal, "child_id": child_id, "status": status, "error": error}
    return Decision(kind=ChildFailed, fields=failed)
