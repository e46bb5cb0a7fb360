"""Containing a batch the store refused with an exception that is not a store error.

A store error (a conflict, a lost connection) means the whole batch could not
be written and is retried as it is. Any other exception from ``append`` (a
store bug, a payload one workflow recorded that the store cannot take) would
do the same forever if the batch stayed queued: every later commit would carry
the same poison and fail, so one workflow would wedge the engine.

Instead, the batch is written again one workflow's queue at a time (each with
the effects its decisions cause, so those stay in one transaction). The parts
that commit go on as usual; a workflow whose part still fails is stalled with
the reason: a ``WorkflowStalled`` event if the store takes that, and in memory
otherwise. Its decisions are dropped, so nothing is acted on that was not
recorded; a restart replays its history and tries again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aion._engine._commit import commit
from aion._errors import StoreError
from aion._events import WorkflowStalled
from aion.store import Append

if TYPE_CHECKING:
    from aion._engine._runtime import Runtime, _Ticket


def contain(runtime: Runtime, error: Exception, tickets: list[_Ticket]) -> None:
    """Commit the queue workflow by workflow after ``error``; stall the parts that fail.

    Raises:
        aion.StoreError: A part failed with a store error: that part and every
            part not yet tried stay queued (with the decisions of the parts
            that committed), exactly as after a failed whole batch.
    """
    pending, runtime._queue = runtime._queue, {}
    caused: dict[str, list[Any]] = {}  # decisions of committed parts: the next batch
    failed: dict[str, str] = {}
    order = list(pending)
    for index, workflow_id in enumerate(order):
        if not pending[workflow_id]:
            continue  # a child's placeholder: its start is in its parent's part
        runtime._queue = {workflow_id: pending[workflow_id]}
        batch, committed = runtime._build_batch()
        try:
            commit(runtime.store, batch)
        except StoreError:
            runtime._queue = _merged(caused, {w: pending[w] for w in order[index:]})
            raise
        except Exception as exc:
            runtime._queue = {}
            failed[workflow_id] = _stall(runtime, workflow_id, exc)
            continue
        runtime._queue = {}
        _settle(tickets, workflow_id, None)
        runtime._applied(batch, committed)
        caused = _merged(caused, runtime._queue)
    runtime._queue = _merged(caused, runtime._queue)
    for workflow_id, cause in failed.items():
        msg = f"the store could not record this for workflow {workflow_id!r}: {cause}"
        problem = StoreError(msg)
        problem.__cause__ = error
        _settle(tickets, workflow_id, problem)
    for ticket in tickets:  # requests for a workflow not queued any more (none expected)
        ticket.done = True


def _settle(tickets: list[_Ticket], workflow_id: str, problem: StoreError | None) -> None:
    for ticket in tickets:
        if not ticket.done and ticket.queued is not None and ticket.queued[0] == workflow_id:
            ticket.error, ticket.done = problem, True


def _merged(first: dict[str, list[Any]], then: dict[str, list[Any]]) -> dict[str, list[Any]]:
    out = {w: list(items) for w, items in first.items()}
    for workflow_id, items in then.items():
        out.setdefault(workflow_id, []).extend(items)
    return out


def _stall(runtime: Runtime, workflow_id: str, exc: Exception) -> str:
    """Stall a workflow whose events the store refused; returns the reason."""
    cause = f"{type(exc).__name__}: {exc}"
    inst = runtime._instances.get(workflow_id)
    if inst is None:  # nothing of it is recorded (this was its start): the caller is told
        runtime._unrecorded[workflow_id] = f"the store refused to record it ({cause})"
        return cause
    reason = f"the store refused to record its events ({cause}); restart the engine to retry."
    runtime._unrecorded[workflow_id] = reason
    inst.status = "stalled"
    runtime._forget_run(inst)  # no activity outcome is awaited for decisions not recorded
    if inst.interp is not None:
        inst.interp = None  # its state is past its history: a restart replays it
        runtime._resident.pop(workflow_id, None)
    head = runtime._head(workflow_id)
    event = WorkflowStalled(
        seq=head + 1, run_id=inst.run_id, recorded_at=runtime.clock.now(), reason=reason
    )
    try:
        commit(runtime.store, [Append(workflow_id=workflow_id, expected_seq=head, events=[event])])
    except Exception:  # the store refuses even this: stalled in memory only
        return cause
    runtime._heads[workflow_id] = event.seq
    return cause
