"""Admitting a request from another thread: queue its decision, or refuse it on its ticket.

`Engine.start`, `signal`, `cancel` and `terminate` are judged here, in the step
that drains them, against what the store and the queue hold at that moment, so
two callers racing for the same workflow id are told apart by one thread.
"""

from __future__ import annotations

from aion._engine._inbox import Request, SignalRequest, StartRequest
from aion._engine._state import EngineState
from aion._errors import WorkflowAlreadyExists, WorkflowClosed, WorkflowNotFound
from aion._events import (
    TERMINAL_STATUSES,
    CancelRequested,
    Decision,
    SignalReceived,
    WorkflowStarted,
)
from aion.store import Store


def admit(state: EngineState, store: Store, item: Request) -> None:
    """Queue ``item``'s decision (kept on its ticket), or mark the ticket done with an error."""
    ticket = item.ticket
    workflow_id = item.workflow_id
    info = store.info(workflow_id)
    if isinstance(item, StartRequest):
        if info is not None or workflow_id in state.queue:
            held = info.status if info is not None else "starting"
            ticket.error = WorkflowAlreadyExists(
                f"workflow {workflow_id!r} already exists ({held})."
            )
            ticket.done = True
            return
        started = Decision(kind=WorkflowStarted, fields=item.fields)
        ticket.queued = (workflow_id, state.enqueue(workflow_id, started))
        return
    if info is None and workflow_id not in state.queue:
        ticket.error = WorkflowNotFound(f"no workflow with id {workflow_id!r} in this store.")
        ticket.done = True
        return
    status = state.decided_end(workflow_id) or (info.status if info is not None else None)
    if status in TERMINAL_STATUSES:
        what = (
            "signal"
            if isinstance(item, SignalRequest)
            else "terminate request"
            if item.terminate
            else "cancel request"
        )
        ticket.error = WorkflowClosed(
            f"workflow {workflow_id!r} is {status} and cannot take a {what}."
        )
        ticket.done = True
        return
    if isinstance(item, SignalRequest):
        fields = {"name": item.name, "payload": item.payload}
        decision = Decision(kind=SignalReceived, fields=fields)
    else:
        fields = {"reason": item.reason}
        if item.terminate:
            fields["terminate"] = True
        decision = Decision(kind=CancelRequested, fields=fields)
    ticket.queued = (workflow_id, state.enqueue(workflow_id, decision))
