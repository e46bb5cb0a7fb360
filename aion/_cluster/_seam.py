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
from typing import TYPE_CHECKING, Any

from aion import _codec
from aion._cluster._fenced import FencedStore
from aion._engine._recovery import revive
from aion._engine._startup import _start_successor
from aion._engine._timers import TimerQueue
from aion._errors import FencedError
from aion._events import TERMINAL_STATUSES, CancelRequested, SignalReceived
from aion.store import Claim, InboxMessage

if TYPE_CHECKING:
    from aion._engine._engine import Engine


def adopt(engine: Engine, store: FencedStore, claims: Sequence[Claim]) -> int:
    """Bring claimed workflows into the running engine; returns how many were adopted."""
    with engine._cond:
        fresh = [c for c in claims if c.workflow_id not in engine._instances]
        store.add_claims(claims)
        if not fresh:
            return 0
        ids = [c.workflow_id for c in fresh]
        histories = store.histories(ids)
        timers: dict[str, list[Any]] = {}
        for timer in store.due_timers():
            if timer.workflow_id in histories:
                timers.setdefault(timer.workflow_id, []).append(timer)
        for workflow_id in ids:
            info = store.info(workflow_id)
            history = histories.get(workflow_id, [])
            if info is None or not history or info.status in TERMINAL_STATUSES:
                continue
            inst = revive(engine, workflow_id, history, previous=info)
            engine._instances[workflow_id] = inst
            engine._heads[workflow_id] = info.last_seq
            engine._collect(inst)
            if info.status == "continued_as_new" and inst.interp is not None:
                _start_successor(engine, inst, history[-1])
                continue
            if inst.interp is None or inst.interp.status != "running":
                continue
            for timer in timers.get(workflow_id, []):
                if timer.run_id == inst.run_id:
                    engine._timers.arm(
                        (workflow_id, timer.run_id, timer.ordinal), timer.fire_at, timer.kind
                    )
            for key, spec in inst.activities.items():
                engine._specs[key] = spec
                if not spec.waiting_retry:
                    engine._dispatch(key, spec, spec.attempts + 1)
            for ordinal, child_id in inst.interp.pending_children().items():
                engine._check_child(inst, ordinal, child_id)
        engine._cond.notify_all()
        return len(fresh)


def deliver(engine: Engine, store: FencedStore) -> int:
    """Hand the session's inbox messages to the engine as events; returns how many."""
    with engine._cond:
        messages = [
            m
            for m in store.pg.inbox_for(store.session)
            if m.message_id not in store.pending_consume
        ]
        for message in messages:
            _deliver_one(engine, message)
            store.pending_consume.add(message.message_id)
        if messages:
            if not engine._queue:
                store.flush_consumed()  # nothing to record (e.g. the workflow closed meanwhile)
            engine._cond.notify_all()
        return len(messages)


def _deliver_one(engine: Engine, message: InboxMessage) -> None:
    workflow_id = message.workflow_id
    inst = engine._instances.get(workflow_id)
    if inst is None or inst.status == "closed" or engine._decided_end(workflow_id):
        return  # it has ended: a request for a closed workflow is dropped, as in one process
    body = _codec.loads(message.payload) if message.payload is not None else {}
    if message.kind == "signal":
        fields = {
            "name": body["name"],
            "payload": body.get("payload"),
            "sender": body.get("sender"),
        }
        engine._enqueue(workflow_id, SignalReceived, fields)
    elif message.kind == "cancel":
        engine._enqueue(workflow_id, CancelRequested, {"reason": body.get("reason")})
    elif message.kind == "child" and inst.interp is not None:
        child_id = body["child_id"]
        for ordinal, pending in inst.interp.pending_children().items():
            if pending == child_id:
                engine._check_child(inst, ordinal, child_id)


def reset(engine: Engine, why: str) -> None:
    """Forget every workflow (the lease is lost); requests still waiting fail with `FencedError`."""
    with engine._cond:
        while engine._inbox:
            item = engine._inbox.popleft()
            if item[0] != "activity":  # an activity's late result: its attempt is forgotten
                ticket = item[-1]
                ticket.error = FencedError(
                    f"the worker's session ended before this request was recorded: {why}",
                    workflow_id=str(item[1]),
                )
                ticket.done = True
        engine._queue.clear()
        engine._heads.clear()
        engine._instances.clear()
        engine._specs.clear()
        engine._inflight.clear()
        engine._timers = TimerQueue()
        engine._told.clear()
        engine._unrecorded.clear()
        engine._resident.clear()
        engine._cond.notify_all()
