"""The engine's machinery: the step that commits a batch, then applies and acts.

One loop, under one lock, does everything that touches history. Each step
commits one batch (all workflows' queued events in one transaction) and then,
only after the commit:

* applies the committed outcomes to their interpreters (which queue new
  decisions for the next batch), and
* acts on the committed decisions: dispatches activities, arms timers.

Effects that are themselves only events (a child's start, a signal's
delivery, a continue-as-new successor, a cancel cascading to children, a
parent told that its child finished) are written in the same batch as the
decision that causes them, so no crash can separate the two.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

from aion._clock import Clock
from aion._definitions import Registry
from aion._engine._activities import (
    ActivityExecutor,
)
from aion._engine._admission import admit
from aion._engine._attempts import Attempts
from aion._engine._batch import Committed, build_batch
from aion._engine._commit import commit
from aion._engine._containment import contain
from aion._engine._effects import child_outcome
from aion._engine._inbox import (
    AttemptReport,
    InboxItem,
    Request,
    Ticket,
)
from aion._engine._instance import ActivitySpec, Instance, revive
from aion._engine._log import LOGGED, committed
from aion._engine._residency import Residency
from aion._engine._state import EngineState
from aion._engine._timers import TimerQueue
from aion._engine._tracing import NO_TRACING, NoTracing
from aion._errors import (
    StoreConflictError,
    StoreError,
    StoreInvalidatedError,
)
from aion._events import (
    TERMINAL_STATUSES,
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    CancelRequested,
    ChildAwaited,
    ChildStarted,
    CommandCancelled,
    Decision,
    Event,
    TimerFired,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStalled,
    WorkflowStarted,
    armed_timer,
)
from aion._gcpause import paused_gc
from aion.store import Append, Store

#: The events that end a run, and the status its span reports.
_RUN_ENDS: dict[type[Event], str] = {
    WorkflowCompleted: "completed",
    WorkflowFailed: "failed",
    WorkflowCancelled: "cancelled",
    WorkflowContinuedAsNew: "continued_as_new",
}


#: How often a caller waiting on its ticket checks whether it should commit itself.
_POLL: Final = 0.0005
_NEVER = sys.maxsize  #: `Runtime._wake_at` while no driver waits: no inbox size wakes anyone


#: An activity's call and its success: no log record, no tracing, no timer; they take
#: a short path in `Runtime._after_commit` (the same steps as the general one).
_HOT: frozenset[type[Event]] = frozenset({ActivityScheduled, ActivityCompleted}) - LOGGED


class Runtime:
    """The state of one engine and the step loop over it; `Engine` is its public face.

    Every attribute is touched under ``lock`` only, except ``inbox`` (other
    threads append to it, the step loop drains it).

    Args:
        store: Where history is.
        registry: The workflows and activities this runtime runs.
        clock: Where time comes from.
        runner: Where activity attempts run.
        max_resident: See `Engine`.
        owns_store: Whether `close` closes the store too.
        tracing: Where spans go (`aion.otel.Tracing`); none by default.
    """

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        runner: ActivityExecutor,
        max_resident: int | None,
        *,
        owns_store: bool,
        tracing: NoTracing = NO_TRACING,
    ) -> None:
        self.state = EngineState(store, registry, clock)
        self.residency = Residency(max_resident, self._histories, self.revive)
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.inbox: deque[InboxItem] = deque()
        # What each driver waiting in `await_inbox` waits for (an inbox size), and the
        # smallest of them: a report wakes a driver only once there is enough to do.
        self._wants: list[int] = []
        self._wake_at = _NEVER
        self.tracing = tracing
        self.attempts = Attempts(self.state, runner, self._report, tracing)
        self.timers = TimerQueue()
        #: The threads running a `serve` loop (each holds the lock but while it waits).
        self.serving: set[int] = set()
        #: Callers whose requests the last committed step answered (see `linger`).
        self.released = 0
        self.closed = False
        self._owns_store = owns_store

    def _histories(self, workflow_ids: Sequence[str]) -> dict[str, list[Event]]:
        return self.state.store.histories(workflow_ids)

    @property
    def store(self) -> Store:
        """Where history is."""
        return self.state.store

    @property
    def clock(self) -> Clock:
        """Where time comes from."""
        return self.state.clock

    def _report(self, report: AttemptReport) -> None:
        # No lock unless a driver waits (the loop holds it for a whole step). A driver
        # sets `_wake_at` before it looks at the inbox (see `await_inbox`), so a report
        # it does not see is one that sees its `_wake_at` (the GIL orders the two).
        inbox = self.inbox
        inbox.append(report)
        if len(inbox) >= self._wake_at:
            self.wake()

    def await_inbox(self, timeout: float | None, want: int = 1) -> None:
        """Wait (lock held) until the inbox holds ``want`` items, a notify, or ``timeout``.

        Attempt reports wake only a driver waiting here, and only once the inbox
        holds what it waits for: a busy loop is not interrupted per report.
        """
        wants = self._wants
        wants.append(want)
        self._wake_at = min(wants)
        try:
            if len(self.inbox) < want:
                self.cond.wait(timeout)
        finally:
            wants.remove(want)
            self._wake_at = min(wants) if wants else _NEVER

    def wake(self) -> None:
        """Wake the thread waiting on ``cond`` (a report arrived, the clock moved)."""
        with self.cond:
            self.cond.notify_all()

    def close(self) -> None:
        """Stop: no more steps, attempts' bookkeeping shut down, the store closed if owned."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.cond.notify_all()
        self.attempts.runner.shutdown()
        if self._owns_store:
            self.store.close()

    def submit(self, request: Request) -> None:
        """Hand ``request`` to the loop from any thread; return once it is committed.

        With a `serve` loop running, the caller wakes it and waits on its
        ticket: the loop commits every request that has arrived in one batch
        (see `linger`). Without one, the caller commits the inbox itself when
        the lock is free. Either way a caller whose request is in a batch
        being committed waits on its ticket, not on the lock, so it returns
        as soon as that batch is durable. A request that arrived just after
        the holder drained the inbox is picked up at the next poll (every
        `_POLL` seconds).
        """
        ticket = request.ticket
        self.inbox.append(request)
        while not ticket.done:
            if self.lock.acquire(blocking=False):
                try:
                    serving = self.serving
                    if not serving or threading.get_ident() in serving:
                        # No loop to commit it, or this is the loop's own thread (a log
                        # handler or hook that starts or signals): commit it here.
                        self.step()  # (a step that finds nothing to do is cheap)
                    self.cond.notify_all()  # a serving loop commits it, with whatever else came
                finally:
                    self.lock.release()
            ticket.wait(_POLL)
        if ticket.error is not None:
            raise ticket.error

    # --- the step --------------------------------------------------------------------

    def step(self) -> bool:
        """Gather work, commit one batch, then apply and act. Returns whether it committed."""
        with paused_gc():
            return self._step()

    def _step(self) -> bool:
        state = self.state
        tickets = self._drain_inbox()
        self._fire_due_timers()
        self.attempts.expire()
        if not state.queue:
            for ticket in tickets:
                ticket.done = True
            self.released = 0
            return False
        batch, committed = build_batch(state)
        self.residency.wake(state.instances, (item.workflow_id for item in batch))
        try:
            try:
                commit(self.store, batch)
            except StoreError:
                raise
            except Exception as exc:  # not a store failure: keep it to whom it concerns
                contain(state, exc, tickets, self._applied, self._let_go)
            else:
                state.queue.clear()
                for ticket in tickets:
                    ticket.done = True
                self.released = len(tickets)
                self._applied(batch, committed)
        except BaseException as exc:
            for ticket in tickets:
                if ticket.done:
                    continue  # its part was committed apart (see `contain`)
                ticket.error, ticket.done = exc, True
                if ticket.queued is not None and isinstance(exc, StoreConflictError):
                    state.withdraw(*ticket.queued)  # nothing was written: the caller may retry
            if isinstance(exc, StoreInvalidatedError):
                self.close()  # the store is lost; a restart recovers from what the file holds
            raise
        self.trim()
        self.cond.notify_all()
        return True

    def release(self, workflow_id: str) -> None:
        """Let go of a workflow: forget it in memory, as if this runtime never ran it.

        Its instance, in-flight attempts (their reports are ignored), timers
        and queued decisions go; its history stays as committed, so whoever
        adopts it next (see `aion._engine._recovery.adopt`) replays it to the
        same point, re-deriving any decision that was queued here. Call it
        between steps, under the lock.
        """
        state = self.state
        inst = state.instances.pop(workflow_id, None)
        if inst is not None:
            self._forget_run(inst)
        state.queue.pop(workflow_id, None)
        state.heads.pop(workflow_id, None)
        state.unrecorded.pop(workflow_id, None)
        self.timers.disarm_workflow(workflow_id)
        self.residency.forget(workflow_id)
        self.tracing.released(workflow_id)

    def trim(self) -> None:
        """Evict idle workflows down to ``max_resident``."""
        self.residency.trim(self.state.instances, self.state.queue)

    def _applied(self, batch: list[Append], committed: Committed) -> None:
        """After ``batch`` committed: move the heads, apply its outcomes, act on its decisions."""
        heads = self.state.heads
        for item in batch:
            heads[item.workflow_id] = item.events[-1].seq
        for workflow_id, events in committed:
            for event in events:
                self._after_commit(workflow_id, event, events)

    def _drain_inbox(self) -> list[Ticket]:
        state = self.state
        tickets: list[Ticket] = []
        inbox = self.inbox
        reports: list[AttemptReport] = []
        while inbox:
            item = inbox.popleft()
            if isinstance(item, AttemptReport):
                reports.append(item)
                continue
            tickets.append(item.ticket)
            admit(state, self.store, item)
        # Simultaneous completions are recorded in ordinal order, so "lowest ordinal
        # among failures recorded together" is what fail-fast reports.
        reports.sort(key=lambda r: (r.key[0], r.key[2]))
        for report in reports:
            self.attempts.finished(report.key, report.attempt, report.outcome)
        return [t for t in tickets if not t.done]

    # --- timers -------------------------------------------------------------------------

    def _fire_due_timers(self) -> None:
        for key, kind in self.timers.pop_due(self.clock.now()):
            workflow_id, run_id, ordinal = key
            inst = self.state.instances.get(workflow_id)
            if inst is None or inst.run_id != run_id or inst.status != "running":
                continue
            if kind == "retry":
                self.attempts.retry(key)
            else:
                fired = {"run_id": run_id, "ordinal": ordinal}
                self.state.enqueue(workflow_id, Decision(kind=TimerFired, fields=fired))

    # --- after a commit ----------------------------------------------------------------

    def _after_commit(self, workflow_id: str, event: Event, batch: list[Event]) -> None:
        cls = type(event)
        if cls in _HOT:  # most events under load: what the general path below does for them
            inst = self.state.instances.get(workflow_id)
            if inst is None:
                return
            if isinstance(event, ActivityScheduled):
                key = (workflow_id, event.run_id, event.ordinal)
                self.attempts.schedule(key, ActivitySpec.from_event(event))
                return
            if isinstance(event, ActivityCompleted):
                self.attempts.settled((workflow_id, event.run_id, event.ordinal))
                interp = inst.interp
                if interp is not None and interp.run_id == event.run_id:
                    interp.apply(event, batch)
                    self.collect(inst)
                return
        if cls in LOGGED:
            committed(workflow_id, event)  # here only: replay and recovery never log twice
        if isinstance(event, WorkflowStarted):
            self.tracing.run_started(workflow_id, event.run_id, event.name, event.recorded_at)
            self._begin_run(workflow_id, event)
            return
        if type(event) in _RUN_ENDS:
            error = event.error.message if isinstance(event, WorkflowFailed) else None
            status = _RUN_ENDS[type(event)]
            self.tracing.run_ended(workflow_id, event.run_id, status, event.recorded_at, error)
        elif isinstance(event, WorkflowStalled):
            self.tracing.run_stalled(workflow_id, event.reason)
        state = self.state
        inst = state.instances.get(workflow_id)
        if inst is None:
            return
        family = event.FAMILY
        armed = armed_timer(event)
        if family == "outcome":
            if armed is not None:  # a retry wait
                kind, fire_at = armed
                self.timers.arm(
                    (workflow_id, event.run_id, getattr(event, "ordinal", 0)), fire_at, kind
                )
            elif isinstance(event, ActivityCompleted | ActivityFailed):
                # The call is settled for good: keep only specs that may run again, so
                # specs stays the size of what is in flight (ending a run scans it).
                self.attempts.settled((workflow_id, event.run_id, event.ordinal))
            if inst.interp is not None and inst.interp.run_id == event.run_id:
                inst.interp.apply(event, batch)
                self.collect(inst)
            if isinstance(event, CancelRequested) and event.terminate and inst.status == "stalled":
                # No generator to close: a stalled run is ended by the request alone
                # (replay under fixed code decides the same end from the same request).
                ended = {"reason": event.reason, "terminated": True}
                state.enqueue(workflow_id, Decision(kind=WorkflowCancelled, fields=ended))
            return
        if family != "decision":
            return
        key = (workflow_id, event.run_id, getattr(event, "ordinal", 0))
        if isinstance(event, ActivityScheduled):
            self.attempts.schedule(key, ActivitySpec.from_event(event))
        elif armed is not None:  # a sleep or a deadline
            kind, fire_at = armed
            self.timers.arm(key, fire_at, kind)
        elif isinstance(event, CommandCancelled):
            self.timers.disarm(key)
            self.attempts.cancel(key)
        elif isinstance(event, ChildStarted | ChildAwaited):
            if isinstance(event, ChildStarted):
                inst.children.append(event.child_id)
            if isinstance(event, ChildAwaited) or event.awaited:
                self.check_child(inst, event.ordinal, event.child_id)
        elif isinstance(event, WorkflowCompleted | WorkflowFailed | WorkflowCancelled):
            inst.status = "closed"
            self._forget_run(inst)
            # A finished workflow needs nothing in memory: its result, queries and
            # description come from history, so a long-lived worker does not grow.
            del state.instances[workflow_id]
            self.residency.forget(workflow_id)
        elif isinstance(event, WorkflowContinuedAsNew):
            self._forget_run(inst)

    def _forget_run(self, inst: Instance) -> None:
        self.state.told.pop((inst.workflow_id, inst.run_id), None)
        self.attempts.forget_run(inst.workflow_id, inst.run_id)

    def _let_go(self, inst: Instance) -> None:
        """Forget a stalled run's in-flight work and its interpreter (a restart replays it)."""
        self._forget_run(inst)
        if inst.interp is not None:
            inst.interp = None
            self.residency.forget(inst.workflow_id)

    def check_child(self, parent: Instance, ordinal: int, child_id: str) -> None:
        """Queue the outcome of an awaited child that already finished."""
        if parent.interp is None or ordinal not in parent.interp.pending_children():
            return  # already told (the outcome was written with the child's end)
        state = self.state
        if state.status(child_id) not in TERMINAL_STATUSES:
            return
        last = self.store.history(child_id)[-1]
        fields: dict[str, Any] = {}
        if isinstance(last, WorkflowCompleted):
            fields = {"result": last.result}
        elif isinstance(last, WorkflowFailed):
            fields = {"error": last.error}
        elif isinstance(last, WorkflowCancelled):
            fields = {"reason": last.reason}
        told = state.told.setdefault((parent.workflow_id, parent.run_id), set())
        if ordinal not in told:
            told.add(ordinal)
            state.enqueue(parent.workflow_id, child_outcome(ordinal, child_id, type(last), fields))

    # --- workflows in memory -----------------------------------------------------------

    def _begin_run(self, workflow_id: str, started: WorkflowStarted) -> None:
        state = self.state
        inst = revive(state.registry, state.enqueue, workflow_id, [started])
        state.instances[workflow_id] = inst
        self.collect(inst)

    def revive(self, workflow_id: str, history: Sequence[Event]) -> None:
        """Rebuild an evicted workflow from its history and take it back in memory."""
        state = self.state
        inst = revive(state.registry, state.enqueue, workflow_id, history)
        old = state.instances.get(workflow_id)
        if old is not None and old.children:
            inst.children = list(old.children)
        state.instances[workflow_id] = inst
        self.collect(inst)

    def collect(self, inst: Instance) -> None:
        """Queue what an interpreter decided; record a stall once."""
        interp = inst.interp
        if interp is None:
            return
        state = self.state
        for decision in interp.take_decisions():
            state.enqueue(inst.workflow_id, decision)
        self.residency.touch(inst)
        if interp.status == "stalled" and inst.status != "stalled":
            inst.status = "stalled"
            stall = Decision(kind=WorkflowStalled, fields={"reason": interp.stall_reason or ""})
            state.enqueue(inst.workflow_id, stall)
