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

from collections.abc import Callable

from aion._engine._batch import Committed, build_batch
from aion._engine._commit import commit
from aion._engine._inbox import Ticket
from aion._engine._instance import Instance
from aion._engine._log import committed
from aion._engine._state import EngineState
from aion._errors import StoreError
from aion._events import Decision, WorkflowStalled
from aion.store import Append

#: What the runtime does once a part committed: move heads, apply, act.
Applied = Callable[[list[Append], Committed], None]
#: What the runtime does to a stalled run: forget its in-flight work and interpreter.
LetGo = Callable[[Instance], None]


def contain(
    state: EngineState,
    error: Exception,
    tickets: list[Ticket],
    applied: Applied,
    let_go: LetGo,
) -> None:
    """Commit the queue workflow by workflow after ``error``; stall the parts that fail.

    Raises:
        aion.StoreError: A part failed with a store error: that part and every
            part not yet tried stay queued (with the decisions of the parts
            that committed), exactly as after a failed whole batch.
    """
    pending, state.queue = state.queue, {}
    caused: dict[str, list[Decision]] = {}  # decisions of committed parts: the next batch
    failed: dict[str, str] = {}
    order = list(pending)
    for index, workflow_id in enumerate(order):
        if not pending[workflow_id]:
            continue  # a child's placeholder: its start is in its parent's part
        state.queue = {workflow_id: pending[workflow_id]}
        batch, committed = build_batch(state)
        try:
            commit(state.store, batch)
        except StoreError:
            state.queue = _merged(caused, {w: pending[w] for w in order[index:]})
            raise
        except Exception as exc:
            state.queue = {}
            failed[workflow_id] = _stall(state, let_go, workflow_id, exc)
            continue
        state.queue = {}
        _settle(tickets, workflow_id, None)
        applied(batch, committed)
        caused = _merged(caused, state.queue)
    state.queue = _merged(caused, state.queue)
    for workflow_id, cause in failed.items():
        msg = f"the store could not record this for workflow {workflow_id!r}: {cause}"
        problem = StoreError(msg)
        problem.__cause__ = error
        _settle(tickets, workflow_id, problem)
    for ticket in tickets:  # requests for a workflow not queued any more (none expected)
        ticket.done = True


def _settle(tickets: list[Ticket], workflow_id: str, problem: StoreError | None) -> None:
    for ticket in tickets:
        if not ticket.done and ticket.queued is not None and ticket.queued[0] == workflow_id:
            ticket.error, ticket.done = problem, True


def _merged(
    first: dict[str, list[Decision]], then: dict[str, list[Decision]]
) -> dict[str, list[Decision]]:
    out = {w: list(items) for w, items in first.items()}
    for workflow_id, items in then.items():
        out.setdefault(workflow_id, []).extend(items)
    return out


def _stall(state: EngineState, let_go: LetGo, workflow_id: str, exc: Exception) -> str:
    """Stall a workflow whose events the store refused; returns the reason."""
    cause = f"{type(exc).__name__}: {exc}"
    inst = state.instances.get(workflow_id)
    if inst is None:  # nothing of it is recorded (this was its start): the caller is told
        state.unrecorded[workflow_id] = f"the store refused to record it ({cause})"
        return cause
    reason = f"the store refused to record its events ({cause}); restart the engine to retry."
    state.unrecorded[workflow_id] = reason
    inst.status = "stalled"
    # No activity outcome is awaited for decisions not recorded, and its interpreter
    # is past its history: a restart replays it.
    let_go(inst)
    head = state.head(workflow_id)
    event = WorkflowStalled(
        seq=head + 1, run_id=inst.run_id, recorded_at=state.clock.now(), reason=reason
    )
    try:
        commit(state.store, [Append(workflow_id=workflow_id, expected_seq=head, events=[event])])
    except Exception:  # the store refuses even this: stalled in memory only
        committed(workflow_id, event)  # the operator hears of it all the same
        return cause
    state.heads[workflow_id] = event.seq
    committed(workflow_id, event)
    return cause
