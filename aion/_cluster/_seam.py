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

* `release_idle`: workflows that have sat idle (waiting only on a timer, a
  signal or a child) for the session's ``release_idle_seconds`` are released
  in the database and dropped from memory and from the fence, in one
  critical section, so that no step can slip between. Any worker claims
  such a workflow again once its timer is due or a message is posted to it.
* `reset`: after the session's lease is lost, everything the engine held in
  memory is dropped (its workflows may be someone else's now); callers
  waiting on a request are told it failed.

Everything else (steps, commits, activities, timers) is the ordinary engine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from aion import _codec
from aion._cluster._fenced import FencedStore
from aion._engine._inbox import AttemptReport
from aion._engine._recovery import OPEN_STATUSES
from aion._engine._recovery import adopt as adopt_infos
from aion._engine._residency import evicted, idle
from aion._errors import FencedError
from aion._events import CancelRequested, Decision, SignalReceived
from aion.store import Claim, InboxMessage

if TYPE_CHECKING:
    from aion._engine._instance import Instance
    from aion._engine._member import Member
    from aion._engine._runtime import Runtime
    from aion._engine._state import EngineState


def adopt(engine: Member, store: FencedStore, claims: Sequence[Claim]) -> int:
    """Bring claimed workflows into the running engine; returns how many were adopted."""
    rt = engine._runtime
    with rt.cond:
        store.add_claims(claims)
        fresh = [c.workflow_id for c in claims if c.workflow_id not in rt.state.instances]
        infos = [i for i in (store.info(w) for w in fresh) if i and i.status in OPEN_STATUSES]
        adopt_infos(rt, infos)
        rt.cond.notify_all()
        return len(infos)


def deliver(engine: Member, store: FencedStore) -> int:
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


class IdleSince:
    """Since when each owned workflow has been idle, judged by its head.

    Any activity of a workflow (an outcome, a signal, a decision) commits
    events and moves its head, so a workflow seen idle at the same head on
    every sweep since ``t`` has done nothing since ``t``, however short the
    busy moments between two sweeps were.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, float]] = {}

    def since(self, workflow_id: str, head: int, now: float) -> float:
        """When ``workflow_id`` was first seen idle at ``head`` (``now`` if just now)."""
        seen = self._seen.get(workflow_id)
        if seen is None or seen[0] != head:
            seen = self._seen[workflow_id] = (head, now)
        return seen[1]

    def keep(self, workflow_ids: set[str]) -> None:
        """Forget every workflow but ``workflow_ids`` (the ones idle in this sweep)."""
        for workflow_id in [w for w in self._seen if w not in workflow_ids]:
            del self._seen[workflow_id]


def release_idle(engine: Member, store: FencedStore, watch: IdleSince, seconds: float) -> list[str]:
    """Release the workflows idle for ``seconds`` whose next timer is further off; those released.

    Idle is the engine's own notion (`aion._engine._residency.idle`: nothing
    queued, no activity in flight, no decision untaken), waiting on a child
    included, and a workflow evicted by ``max_resident`` is idle; plus: no
    request of a caller waiting in the engine's inbox, and (checked by the
    database, in the releasing statement) no inbox message.
    A workflow mid-commit cannot be seen: the sweep holds the engine's lock,
    which every step holds throughout. The database release, the fence and
    the engine's memory change under that one lock, so no step writes a
    released workflow with the epoch it no longer holds.
    """
    rt = engine._runtime
    with rt.cond:
        if rt.closed or store.lost:
            return []
        state = rt.state
        now = time.monotonic()
        horizon = rt.clock.now() + timedelta(seconds=seconds)
        timers = rt.timers.earliest_by_workflow()
        asked = {i.workflow_id for i in list(rt.inbox) if not isinstance(i, AttemptReport)}
        idle_now: set[str] = set()
        ripe: list[str] = []
        for workflow_id, inst in state.instances.items():
            if (
                workflow_id not in store.epochs
                or workflow_id in asked
                or workflow_id in state.unrecorded
                or not (idle(inst, state.queue, children=True) or _evicted_idle(inst, state))
            ):
                continue
            idle_now.add(workflow_id)
            since = watch.since(workflow_id, state.heads.get(workflow_id, -1), now)
            due = timers.get(workflow_id)
            if now - since >= seconds and (due is None or due > horizon):
                ripe.append(workflow_id)
        watch.keep(idle_now)
        released = store.release_idle(ripe)
        for workflow_id in released:
            rt.release(workflow_id)
        return released


def _evicted_idle(inst: Instance, state: EngineState) -> bool:
    """An evicted workflow (``max_resident``) was idle when evicted and has not woken since."""
    return evicted(inst) and inst.workflow_id not in state.queue


def reset(engine: Member, why: str) -> None:
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
