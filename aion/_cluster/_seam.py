"""The narrow seam between a cluster worker and the engine's runtime.

Three things only, all done under the engine's lock so that they fall
between two steps (never inside one):

* `adopt`: a workflow claimed while the engine runs is brought in exactly as
  recovery at open brings in an unfinished one (replayed, timers re-armed,
  activities without an outcome dispatched again, finished children told);
* `deliver`: inbox messages for the session's workflows become the events a
  signal, a cancel request or a child's end would have been in one process.
  Each message id joins the fenced store's ``pending_consume``, so the batch
  that records its event also deletes it (exactly once).

* `reset`: after the session's lease is lost, everything the engine held in
  memory is dropped (its workflows may be someone else's now); callers
  waiting on a request are told it failed.

Everything else (steps, commits, activities, timers) is the ordinary engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aion import _codec
from aion._cluster._fenced import FencedStore
from aion._engine._inbox import AttemptReport
from aion._engine._recovery import OPEN_STATUSES
from aion._engine._recovery import adopt as adopt_infos
from aion._errors import FencedError
from aion._events import CancelRequested, Decision, SignalReceived
from aion.store import Claim, InboxMessage

if TYPE_CHECKING:
    from aion._engine._engine import Engine
    from aion._engine._runtime import Runtime


def adopt(engine: Engine, store: FencedStore, claims: Sequence[Claim]) -> int:
    """Bring claimed workflows into the running engine; returns how many were adopted."""
    rt = engine._runtime
    with rt.cond:
        store.add_claims(claims)
        fresh = [c.workflow_id for c in claims if c.workflow_id not in rt.state.instances]
        infos = [i for i in (store.info(w) for w in fresh) if i and i.status in OPEN_STATUSES]
        adopt_infos(rt, infos)
        rt.cond.notify_all()
        return len(infos)


def deliver(engine: Engine, store: FencedStore) -> int:
    """Hand the session's inbox messages to the engine as events; returns how many."""
    rt = engine._runtime
    with rt.cond:
        messages = [
            m
            for m in store.pg.inbox_for(store.session)
            if m.message_id not in store.pending_consume
        ]
        for message in messages:
            _deliver_one(rt, message)
            store.pending_consume.add(message.message_id)
        if messages:
            if not rt.state.queue:
                store.flush_consumed()  # nothing to record (e.g. the workflow closed meanwhile)
            rt.cond.notify_all()
        return len(messages)


def _deliver_one(rt: Runtime, message: InboxMessage) -> None:
    state = rt.state
    workflow_id = message.workflow_id
    inst = state.instances.get(workflow_id)
    if inst is None or inst.status == "closed" or state.decided_end(workflow_id):
        return  # it has ended: a request for a closed workflow is dropped, as in one process
    body = _codec.loads(message.payload) if message.payload is not None else {}
    if message.kind == "signal":
        fields = {
            "name": body["name"],
            "payload": body.get("payload"),
            "sender": body.get("sender"),
        }
        state.enqueue(workflow_id, Decision(kind=SignalReceived, fields=fields))
    elif message.kind == "cancel":
        fields = {"reason": body.get("reason"), "terminate": bool(body.get("terminate"))}
        state.enqueue(workflow_id, Decision(kind=CancelRequested, fields=fields))
    elif message.kind == "child" and inst.interp is not None:
        child_id = body["child_id"]
        for ordinal, pending in inst.interp.pending_children().items():
            if pending == child_id:
                rt.check_child(inst, ordinal, child_id)


def reset(engine: Engine, why: str) -> None:
    """Forget every workflow (the lease is lost); requests still waiting fail with `FencedError`."""
    rt = engine._runtime
    with rt.cond:
        while rt.inbox:
            item = rt.inbox.popleft()
            if isinstance(item, AttemptReport):
                continue  # an activity's late result: its attempt is forgotten
            item.ticket.error = FencedError(
                f"the worker's session ended before this request was recorded: {why}",
                workflow_id=item.workflow_id,
            )
            item.ticket.done = True
        for workflow_id in {*rt.state.instances, *rt.state.queue}:
            rt.release(workflow_id)
        rt.state.heads.clear()
        rt.state.told.clear()
        rt.state.unrecorded.clear()
        rt.cond.notify_all()
