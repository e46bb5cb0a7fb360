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

import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from aion._clock import Clock
from aion._definitions import Registry, RetryPolicy
from aion._engine._activities import ActivityExecutor, ActivityInfo, Outcome, settle_outcome
from aion._engine._commit import commit
from aion._engine._containment import contain
from aion._engine._effects import child_outcome, expand
from aion._engine._ordering import outcomes_by_ordinal
from aion._engine._recovery import ActivitySpec, Instance, revive
from aion._engine._residency import Residency
from aion._engine._timers import TimerKey, TimerQueue
from aion._errors import (
    StoreConflictError,
    StoreError,
    StoreInvalidatedError,
    WorkflowClosed,
    WorkflowNotFound,
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
    ErrorInfo,
    Event,
    SignalReceived,
    TimeoutStarted,
    TimerFired,
    TimerStarted,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStalled,
    WorkflowStarted,
)
from aion.store import Append, Store

Queued = tuple[type[Event], dict[str, Any]]
#: The events after which a run records nothing more.
_RUN_ENDS: frozenset[type[Event]] = frozenset(
    {WorkflowCompleted, WorkflowFailed, WorkflowCancelled, WorkflowContinuedAsNew}
)


class _Ticket:
    """A caller waiting for its request to be committed.

    ``queued`` is the event the request put in the queue, so a request whose
    caller is told it failed can be taken back out (never recorded later).
    """

    __slots__ = ("done", "error", "queued")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None
        self.queued: tuple[str, Queued] | None = None


class _Attempt:
    __slots__ = ("attempt", "deadline", "future")

    def __init__(self, attempt: int, deadline: float | None) -> None:
        self.attempt = attempt
        self.deadline = deadline
        self.future: Any = None


class Runtime(Residency):
    """State and the step loop; `Engine` adds the public API on top."""

    store: Store
    registry: Registry
    clock: Clock
    _lock: threading.RLock
    _cond: threading.Condition
    _inbox: deque[tuple[Any, ...]]
    _queue: dict[str, list[Queued]]
    _heads: dict[str, int]
    _instances: dict[str, Instance]
    _specs: dict[TimerKey, ActivitySpec]
    _inflight: dict[TimerKey, _Attempt]
    _timers: TimerQueue
    _told: dict[tuple[str, str], set[int]]  # per run: child awaits whose outcome is queued
    _unrecorded: dict[str, str]  # workflows stalled because the store refused their events
    _runner: ActivityExecutor

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Stop the engine (defined by `Engine`)."""
        raise NotImplementedError

    # --- the step --------------------------------------------------------------------

    def _enqueue(self, workflow_id: str, cls: type[Event], fields: dict[str, Any]) -> Queued:
        item = (cls, fields)
        self._queue.setdefault(workflow_id, []).append(item)
        return item

    def _withdraw(self, workflow_id: str, item: Queued) -> None:
        """Take a request's event back out of the queue (its caller was told it failed)."""
        items = self._queue.get(workflow_id, [])
        for i, queued in enumerate(items):
            if queued is item:
                del items[i]
                break
        if not items:
            self._queue.pop(workflow_id, None)

    def _step(self) -> bool:
        """Gather work, commit one batch, then apply and act. Returns whether it committed."""
        tickets = self._drain_inbox()
        self._fire_due_timers()
        self._expire_activities()
        if not self._queue:
            for ticket in tickets:
                ticket.done = True
            return False
        batch, committed = self._build_batch()
        self._wake_evicted(batch)
        try:
            try:
                commit(self.store, batch)
            except StoreError:
                raise
            except Exception as exc:  # not a store failure: keep it to whom it concerns
                contain(self, exc, tickets)
            else:
                self._queue.clear()
                for ticket in tickets:
                    ticket.done = True
                self._applied(batch, committed)
        except BaseException as exc:
            for ticket in tickets:
                if ticket.done:
                    continue  # its part was committed apart (see `contain`)
                ticket.error, ticket.done = exc, True
                if ticket.queued is not None and isinstance(exc, StoreConflictError):
                    self._withdraw(*ticket.queued)  # nothing was written: the caller may retry
            if isinstance(exc, StoreInvalidatedError):
                self.close()  # the store is lost; a restart recovers from what the file holds
            raise
        self._trim_resident()
        self._cond.notify_all()
        return True

    def _applied(self, batch: list[Append], committed: list[tuple[str, list[Event]]]) -> None:
        """After ``batch`` committed: move the heads, apply its outcomes, act on its decisions."""
        for item in batch:
            self._heads[item.workflow_id] = item.events[-1].seq
        for workflow_id, events in committed:
            for event in events:
                self._after_commit(workflow_id, event, events)

    def _drain_inbox(self) -> list[_Ticket]:
        tickets: list[_Ticket] = []
        inbox = self._inbox
        completions = []
        while inbox:
            item = inbox.popleft()
            kind = item[0]
            if kind == "activity":
                completions.append(item)
                continue
            ticket: _Ticket = item[-1]
            tickets.append(ticket)
            workflow_id = item[1]
            info = self.store.info(workflow_id)
            if info is None and workflow_id not in self._queue:
                ticket.error = WorkflowNotFound(
                    f"no workflow with id {workflow_id!r} in this store."
                )
                ticket.done = True
                continue
            status = self._decided_end(workflow_id) or (info.status if info is not None else None)
            if status in TERMINAL_STATUSES:
                what = "signal" if kind == "signal" else "cancel request"
                ticket.error = WorkflowClosed(
                    f"workflow {workflow_id!r} is {status} and cannot take a {what}."
                )
                ticket.done = True
                continue
            if kind == "signal":
                fields = {"name": item[2], "payload": item[3]}
                queued = self._enqueue(workflow_id, SignalReceived, fields)
            else:
                queued = self._enqueue(workflow_id, CancelRequested, {"reason": item[2]})
            ticket.queued = (workflow_id, queued)
        # Simultaneous completions are recorded in ordinal order, so "lowest ordinal
        # among failures recorded together" is what fail-fast reports.
        completions.sort(key=lambda c: (c[1][0], c[1][2]))
        for _, key, attempt_no, outcome in completions:
            self._activity_finished(key, attempt_no, outcome)
        return [t for t in tickets if not t.done]

    def _activity_finished(self, key: TimerKey, attempt_no: int, outcome: Outcome) -> None:
        attempt = self._inflight.get(key)
        spec = self._specs.get(key)
        if attempt is None or attempt.attempt != attempt_no or spec is None:
            return  # a stale attempt (timed out, cancelled) or a run that ended
        del self._inflight[key]
        workflow_id, run_id, ordinal = key
        ok, value = outcome
        if ok:
            self._enqueue(
                workflow_id,
                ActivityCompleted,
                {"run_id": run_id, "ordinal": ordinal, "attempt": attempt_no, "result": value},
            )
            return
        error: ErrorInfo = value
        retry_at = self._retry_at(spec.retry, attempt_no, error)
        self._enqueue(
            workflow_id,
            ActivityFailed,
            {
                "run_id": run_id,
                "ordinal": ordinal,
                "attempt": attempt_no,
                "error": error,
                "retry_at": retry_at,
            },
        )

    def _retry_at(self, policy: RetryPolicy, attempt: int, error: ErrorInfo) -> datetime | None:
        if attempt >= policy.max_attempts:
            return None
        short_type = error.type.rsplit(".", 1)[-1]
        if error.type in policy.non_retryable or short_type in policy.non_retryable:
            return None
        if error.type in ("aion.CodecError", "aion.NotRegisteredError", "aion.NotPicklableError"):
            return None
        delay = policy.initial_interval.total_seconds() * policy.backoff ** (attempt - 1)
        delay = min(delay, policy.max_interval.total_seconds())
        return self.clock.now() + timedelta(seconds=delay)

    def _fire_due_timers(self) -> None:
        for key, kind in self._timers.pop_due(self.clock.now()):
            workflow_id, run_id, ordinal = key
            inst = self._instances.get(workflow_id)
            if inst is None or inst.run_id != run_id or inst.status != "running":
                continue
            if kind == "retry":
                spec = self._specs.get(key)
                if spec is not None:
                    self._dispatch(key, spec, spec.attempts + 1)
            else:
                self._enqueue(workflow_id, TimerFired, {"run_id": run_id, "ordinal": ordinal})

    def _expire_activities(self) -> None:
        now_mono = time.monotonic()
        for key, attempt in list(self._inflight.items()):
            if attempt.deadline is not None and now_mono >= attempt.deadline:
                spec = self._specs[key]
                if attempt.future is not None:
                    attempt.future.cancel()
                error = ErrorInfo(
                    type="aion.ActivityTimeout",
                    message=(
                        f"attempt {attempt.attempt} of activity {spec.name!r} ran past its "
                        f"timeout of {spec.timeout:g}s"
                    ),
                )
                self._activity_finished(key, attempt.attempt, (False, error))

    def _build_batch(self) -> tuple[list[Append], list[tuple[str, list[Event]]]]:
        """Turn the queue into events with seqs, expanding effects that are only events."""
        now = self.clock.now()
        pending: dict[str, list[Queued]] = {}
        order: list[str] = []

        deferred: list[tuple[str, type[Event], dict[str, Any]]] = []
        current = ""

        def put(workflow_id: str, cls: type[Event], fields: dict[str, Any]) -> None:
            if workflow_id not in pending:
                pending[workflow_id] = []
                order.append(workflow_id)
            pending[workflow_id].append((cls, fields))

        def add(workflow_id: str, cls: type[Event], fields: dict[str, Any]) -> None:
            # Effects on the deciding workflow itself (a continue-as-new successor, a
            # delivery receipt) follow their decision at once; effects on other
            # workflows go after those workflows' own queued events, so every
            # history reads decision-first.
            if workflow_id == current:
                put(workflow_id, cls, fields)
            else:
                deferred.append((workflow_id, cls, fields))

        for workflow_id, items in list(self._queue.items()):
            current = workflow_id
            for cls, fields in items:
                put(workflow_id, cls, fields)
                expand(self, workflow_id, cls, fields, add)
        for workflow_id, cls, fields in deferred:
            put(workflow_id, cls, fields)
        appends: list[Append] = []
        committed: list[tuple[str, list[Event]]] = []
        for workflow_id in order:
            head = self._head(workflow_id)
            run_id = self._run_id(workflow_id)
            ended = False
            events: list[Event] = []
            for cls, fields in outcomes_by_ordinal(pending[workflow_id]):
                data = dict(fields)
                if cls is WorkflowStarted:
                    run_id, ended = data["run_id"], False
                elif "run_id" in data and (ended or data["run_id"] != run_id):
                    # An outcome addressed to a run that has ended (an activity that
                    # finished, a timer that fired, while the run decided its end): the
                    # end cancelled its command, and nothing may follow a run's end.
                    continue
                head += 1
                data.setdefault("run_id", run_id)
                events.append(cls(seq=head, recorded_at=now, **data))
                ended = ended or cls in _RUN_ENDS
            if not events:
                continue
            appends.append(
                Append(workflow_id=workflow_id, expected_seq=self._head(workflow_id), events=events)
            )
            committed.append((workflow_id, events))
        return appends, committed

    def _head(self, workflow_id: str) -> int:
        head = self._heads.get(workflow_id)
        if head is None:
            info = self.store.info(workflow_id)
            head = self._heads[workflow_id] = info.last_seq if info else 0
        return head

    def _run_id(self, workflow_id: str) -> str:
        inst = self._instances.get(workflow_id)
        if inst is not None:
            return inst.run_id
        info = self.store.info(workflow_id)
        return info.run_id if info else ""

    def _status(self, workflow_id: str) -> str | None:
        info = self.store.info(workflow_id)
        return info.status if info else None

    def _decided_end(self, workflow_id: str) -> str | None:
        """The terminal status a workflow's code decided, before (or as) it is committed.

        A decision is queued once the batch that caused it has committed, so it
        is in the next batch: requests and effects aimed at the workflow in that
        batch must see it as closed, or they would be recorded after its end.
        """
        inst = self._instances.get(workflow_id)
        if inst is not None and inst.interp is not None:
            status = inst.interp.status
            if status in TERMINAL_STATUSES:
                return status
        return None

    def _after_commit(self, workflow_id: str, event: Event, batch: list[Event]) -> None:
        if isinstance(event, WorkflowStarted):
            self._begin_run(workflow_id, event)
            return
        inst = self._instances.get(workflow_id)
        if inst is None:
            return
        family = event.FAMILY
        if family == "outcome":
            if isinstance(event, ActivityFailed) and event.retry_at is not None:
                self._timers.arm(
                    (workflow_id, event.run_id, event.ordinal), event.retry_at, "retry"
                )
            elif isinstance(event, ActivityCompleted | ActivityFailed):
                # The call is settled for good: keep only specs that may run again, so
                # _specs stays the size of what is in flight (ending a run scans it).
                self._specs.pop((workflow_id, event.run_id, event.ordinal), None)
            if inst.interp is not None and inst.interp.run_id == event.run_id:
                inst.interp.apply(event, batch)
                self._collect(inst)
            return
        if family != "decision":
            return
        key = (workflow_id, event.run_id, getattr(event, "ordinal", 0))
        if isinstance(event, ActivityScheduled):
            spec = ActivitySpec.from_event(event)
            self._specs[key] = spec
            self._dispatch(key, spec, 1)
        elif isinstance(event, TimerStarted | TimeoutStarted):
            self._timers.arm(
                key, event.fire_at, "sleep" if isinstance(event, TimerStarted) else "timeout"
            )
        elif isinstance(event, CommandCancelled):
            self._timers.disarm(key)
            attempt = self._inflight.pop(key, None)
            if attempt is not None and attempt.future is not None:
                attempt.future.cancel()
            self._specs.pop(key, None)
        elif isinstance(event, ChildStarted | ChildAwaited):
            if isinstance(event, ChildStarted):
                inst.children.append(event.child_id)
            if isinstance(event, ChildAwaited) or event.awaited:
                self._check_child(inst, event.ordinal, event.child_id)
        elif isinstance(event, WorkflowCompleted | WorkflowFailed | WorkflowCancelled):
            inst.status = "closed"
            self._forget_run(inst)
            # A finished workflow needs nothing in memory: its result, queries and
            # description come from history, so a long-lived worker does not grow.
            del self._instances[workflow_id]
            self._resident.pop(workflow_id, None)
        elif isinstance(event, WorkflowContinuedAsNew):
            self._forget_run(inst)

    def _forget_run(self, inst: Instance) -> None:
        self._told.pop((inst.workflow_id, inst.run_id), None)
        for key in [k for k in self._specs if k[0] == inst.workflow_id and k[1] == inst.run_id]:
            self._specs.pop(key, None)
            self._inflight.pop(key, None)

    def _check_child(self, parent: Instance, ordinal: int, child_id: str) -> None:
        """Queue the outcome of an awaited child that already finished."""
        if parent.interp is None or ordinal not in parent.interp.pending_children():
            return  # already told (the outcome was written with the child's end)
        status = self._status(child_id)
        if status not in TERMINAL_STATUSES:
            return
        last = self.store.history(child_id)[-1]
        cls = type(last)
        fields: dict[str, Any] = {}
        if isinstance(last, WorkflowCompleted):
            fields = {"result": last.result}
        elif isinstance(last, WorkflowFailed):
            fields = {"error": last.error}
        elif isinstance(last, WorkflowCancelled):
            fields = {"reason": last.reason}
        told = self._told.setdefault((parent.workflow_id, parent.run_id), set())
        if ordinal not in told:
            told.add(ordinal)
            self._enqueue(parent.workflow_id, *child_outcome(ordinal, child_id, cls, fields))

    def _begin_run(self, workflow_id: str, started: WorkflowStarted) -> None:
        inst = revive(self, workflow_id, [started])
        self._instances[workflow_id] = inst
        self._collect(inst)

    def _collect(self, inst: Instance) -> None:
        """Queue what an interpreter decided; record a stall once."""
        interp = inst.interp
        if interp is None:
            return
        for cls, fields in interp.take_decisions():
            self._enqueue(inst.workflow_id, cls, fields)
        self._touch(inst)
        if interp.status == "stalled" and inst.status != "stalled":
            inst.status = "stalled"
            self._enqueue(inst.workflow_id, WorkflowStalled, {"reason": interp.stall_reason or ""})

    def _dispatch(self, key: TimerKey, spec: ActivitySpec, attempt_no: int) -> None:
        """Start an attempt of a recorded activity call."""
        workflow_id, run_id, ordinal = key
        definition = self.registry.activities.get(spec.name)
        inst = self._instances.get(workflow_id)
        if definition is None:
            if inst is not None and inst.status != "stalled":
                inst.status = "stalled"
                known = ", ".join(sorted(self.registry.activities)) or "none"
                reason = (
                    f"activity {spec.name!r} is not registered with this engine "
                    f"(registered: {known})."
                )
                self._enqueue(workflow_id, WorkflowStalled, {"reason": reason})
            return
        spec.attempts = attempt_no
        deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
        attempt = _Attempt(attempt_no, deadline)
        self._inflight[key] = attempt
        info = ActivityInfo(
            workflow_id=workflow_id,
            run_id=run_id,
            ordinal=ordinal,
            attempt=attempt_no,
            activity=spec.name,
            idempotency_key=f"{workflow_id}:{run_id}:{ordinal}",
        )

        def done(outcome: Outcome) -> None:
            settled = settle_outcome(outcome, spec.name)  # any executor's report, normalised
            self._inbox.append(("activity", key, attempt_no, settled))
            self._wake()

        attempt.future = self._runner.submit(definition, spec.args, spec.kwargs, info, done)

    # --- recovery ----------------------------------------------------------------
