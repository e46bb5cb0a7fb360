"""The engine: runs workflows live, recording every step before acting on it.

One loop, under one lock, does everything that touches history. Each
*step* commits one batch (all workflows' queued events in one transaction)
and then, only after the commit:

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
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from aion import _codec
from aion._clock import Clock, ManualClock, SystemClock
from aion._definitions import Registry, RetryPolicy, workflow_definition
from aion._engine._activities import ActivityInfo, ActivityRunner, Outcome
from aion._engine._handle import WorkflowDescription, WorkflowHandle
from aion._engine._recovery import ActivitySpec, Instance, revive
from aion._engine._timers import TimerKey, TimerQueue
from aion._errors import (
    ConfigurationError,
    QueryError,
    StoreError,
    WorkflowAlreadyExists,
    WorkflowBlocked,
    WorkflowCancelledError,
    WorkflowClosed,
    WorkflowFailedError,
    WorkflowNotFound,
    WorkflowStalledError,
)
from aion._events import (
    TERMINAL_STATUSES,
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    CancelRequested,
    ChildAwaited,
    ChildCompleted,
    ChildFailed,
    ChildStarted,
    CommandCancelled,
    ErrorInfo,
    Event,
    SignalDelivered,
    SignalDeliveryFailed,
    SignalReceived,
    SignalSent,
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
from aion._replay import replay
from aion.store import Append, DuckDBStore, MemoryStore, Store, WorkflowInfo

Queued = tuple[type[Event], dict[str, Any]]


class _Ticket:
    """A caller waiting for its request to be committed."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None


class _Attempt:
    __slots__ = ("attempt", "deadline", "future")

    def __init__(self, attempt: int, deadline: float | None) -> None:
        self.attempt = attempt
        self.deadline = deadline
        self.future: Any = None


class Engine:
    """Runs workflows on a history store (an embedded DuckDB file by default).

    Args:
        path: The DuckDB file (created if missing; ``":memory:"`` for a
            throwaway database). Opening an existing file recovers it: every
            unfinished workflow is replayed and continues.
        store: A store to use instead of ``path`` (e.g. `MemoryStore()`).
        workflows: Workflow functions the engine can run.
        activities: Activity functions the engine can call.
        clock: Where time comes from; `ManualClock` for virtual time.
        max_workers: Threads for sync activities.
    """

    def __init__(
        self,
        path: str | None = None,
        *,
        store: Store | None = None,
        workflows: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
        clock: Clock | None = None,
        max_workers: int = 8,
    ) -> None:
        if store is not None and path is not None:
            msg = "give Engine either a path or a store, not both."
            raise ConfigurationError(msg)
        self._owns_store = store is None
        self.store: Store = store if store is not None else DuckDBStore(path or "aion.duckdb")
        self.registry = Registry(workflows, activities)
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._queue: dict[str, list[Queued]] = {}
        self._heads: dict[str, int] = {}
        self._instances: dict[str, Instance] = {}
        self._specs: dict[TimerKey, ActivitySpec] = {}
        self._inflight: dict[TimerKey, _Attempt] = {}
        self._timers = TimerQueue()
        self._runner = ActivityRunner(max_workers)
        self._serving = 0
        self._closed = False
        if isinstance(self.clock, ManualClock):
            self.clock.subscribe(self._wake)
        with self._lock:
            self._recover()

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop running activities' bookkeeping and close the store (if the engine opened it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._runner.shutdown()
        if self._owns_store:
            self.store.close()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # --- public API -------------------------------------------------------------------

    def start(
        self, workflow: Callable[..., Any] | str, *args: Any, workflow_id: str | None = None
    ) -> WorkflowHandle:
        """Record and start a workflow; returns its handle once the start is durable.

        Raises:
            aion.NotRegisteredError: The workflow is not registered with this engine.
            aion.WorkflowAlreadyExists: ``workflow_id`` is taken.
            aion.CodecError: An argument cannot be encoded as JSON.
        """
        if isinstance(workflow, str):
            name = self.registry.workflow(workflow).name
        else:
            name = workflow_definition(workflow).name
            if name not in self.registry.workflows:
                self.registry.add_workflow(workflow)
        json_args = _codec.to_jsonable(list(args), f"the input of workflow {name!r}")
        workflow_id = workflow_id or str(uuid.uuid4())
        with self._lock:
            self._check_open()
            if self.store.info(workflow_id) is not None or workflow_id in self._queue:
                info = self.store.info(workflow_id)
                status = info.status if info else "starting"
                msg = f"workflow {workflow_id!r} already exists ({status})."
                raise WorkflowAlreadyExists(msg)
            self._enqueue(
                workflow_id,
                WorkflowStarted,
                {"run_id": str(uuid.uuid4()), "name": name, "args": json_args},
            )
            self._step()
        return WorkflowHandle(self, workflow_id)

    def signal(self, workflow_id: str, name: str, payload: Any = None) -> None:
        """Record a signal for a workflow; returns once it is durable.

        Signals are recorded on arrival and buffered until the workflow's
        `receive_signal` consumes them; the k-th receive of a name gets the
        k-th signal of that name.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: The workflow has finished.
            aion.CodecError: The payload cannot be encoded as JSON.
        """
        json_payload = _codec.to_jsonable(payload, f"the payload of signal {name!r}")
        self._submit(("signal", workflow_id, name, json_payload))

    def cancel(self, workflow_id: str, reason: str | None = None) -> None:
        """Ask a workflow to cancel: `aion.Cancelled` is thrown in at its current yield.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: The workflow has finished.
        """
        self._submit(("cancel", workflow_id, reason))

    def query(self, workflow_id: str, name: str, *args: Any) -> Any:
        """Answer a query from a workflow's `on_query` handlers; records nothing.

        A running workflow answers from its live generator; a closed one is
        replayed to its end first.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.QueryError: Unknown query name, or the handler raised.
        """
        with self._lock:
            inst = self._instances.get(workflow_id)
            if inst is not None and inst.interp is not None and inst.interp.status == "running":
                return inst.interp.query(name, *args)
        history = self.history(workflow_id)
        started = [e for e in history if isinstance(e, WorkflowStarted)][-1]
        definition = self.registry.workflow(started.name)
        result = replay(definition.fn, history, registry=self.registry)
        if result.interpreter is None:
            msg = f"workflow {workflow_id!r} could not be replayed to answer query {name!r}."
            raise QueryError(msg)
        return result.interpreter.query(name, *args)

    def history(self, workflow_id: str) -> list[Event]:
        """Every recorded event of a workflow, all runs, in seq order.

        Raises:
            aion.WorkflowNotFound: No such workflow.
        """
        with self._lock:
            events = self.store.history(workflow_id)
        if not events:
            raise WorkflowNotFound(f"no workflow with id {workflow_id!r} in this store.")
        return events

    def list(
        self, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Workflows with their status, oldest first, optionally filtered."""
        with self._lock:
            return self.store.workflows(status=status, workflow_type=workflow_type)

    def describe(self, workflow_id: str) -> WorkflowDescription:
        """Status, timestamps, why it is stalled, and what it waits on.

        Raises:
            aion.WorkflowNotFound: No such workflow.
        """
        with self._lock:
            info = self._info(workflow_id)
            inst = self._instances.get(workflow_id)
            pending: tuple[str, ...] = ()
            if inst is not None and inst.interp is not None and inst.interp.status == "running":
                pending = tuple(inst.interp.waiting_for())
            timers = tuple(t for t in self.store.due_timers() if t.workflow_id == workflow_id)
        result: Any = None
        error: str | None = None
        if info.status in ("completed", "failed"):
            last = self.store.history(workflow_id)[-1]
            if isinstance(last, WorkflowCompleted):
                result = last.result
            elif isinstance(last, WorkflowFailed):
                error = f"{last.error.type}: {last.error.message}"
        return WorkflowDescription(
            workflow_id=workflow_id,
            run_id=info.run_id,
            workflow_type=info.workflow_type,
            status=info.status,
            stalled_reason=info.stalled_reason,
            started_at=info.started_at,
            closed_at=info.closed_at,
            last_seq=info.last_seq,
            runs=info.runs,
            parent_id=info.parent_id,
            pending=pending,
            timers=timers,
            result=result,
            error=error,
        )

    def run_until_idle(self) -> None:
        """Run everything runnable now, then return; never moves virtual time.

        Waits for activities already in flight, fires due timers, and returns
        when no workflow can progress without time passing or a signal arriving.
        """
        with self._cond:
            while True:
                self._check_open()
                if self._step():
                    continue
                if not self._inflight:
                    return
                self._cond.wait(self._wait_seconds(activities_only=True))

    def run_until_complete(self, workflow_id: str, timeout: float | None = None) -> Any:
        """Drive the engine until a workflow finishes; return its result or raise its error.

        Under `ManualClock` the clock jumps to the next due timer whenever
        nothing else can run.

        Raises:
            aion.WorkflowBlocked: Nothing can move the workflow on (it waits for a signal).
            aion.WorkflowFailedError / WorkflowCancelledError / WorkflowStalledError:
                It ended that way.
            TimeoutError: ``timeout`` seconds of wall time passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._info(workflow_id)
            while True:
                self.run_until_idle()
                outcome = self._outcome(workflow_id)
                if outcome is not None:
                    return outcome()
                next_due = self._timers.next_due()
                if next_due is None:
                    info = self._info(workflow_id)
                    inst = self._instances.get(workflow_id)
                    waits = inst.interp.waiting_for() if inst and inst.interp else []
                    what = "; ".join(waits) or info.status
                    msg = (
                        f"workflow {workflow_id!r} cannot progress: it waits for {what}, "
                        "and no timer is pending. Send the signal it expects."
                    )
                    raise WorkflowBlocked(msg)
                if isinstance(self.clock, ManualClock):
                    self.clock.advance_to(next_due)
                    continue
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    msg = f"workflow {workflow_id!r} did not finish within {timeout}s."
                    raise TimeoutError(msg)
                wait = self._wait_seconds()
                self._cond.wait(wait if remaining is None else min(wait, remaining))

    def serve(self, stop: threading.Event | None = None) -> None:
        """Run as a long-lived worker until ``stop`` is set or `close` is called.

        Fires timers as they come due, runs activities, and applies signals
        sent from other threads.
        """
        with self._cond:
            self._serving += 1
            try:
                while not self._closed and not (stop is not None and stop.is_set()):
                    try:
                        if self._step():
                            continue
                    except StoreError:
                        self._cond.wait(0.5)  # transient store failure: retry the batch
                        continue
                    self._cond.wait(min(self._wait_seconds(), 0.5))
            finally:
                self._serving -= 1

    # --- helpers for the API --------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            msg = "this engine is closed."
            raise ConfigurationError(msg)

    def _info(self, workflow_id: str) -> WorkflowInfo:
        info = self.store.info(workflow_id)
        if info is None:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return info

    def _submit(self, item: tuple[Any, ...]) -> None:
        """Queue a request from any thread and return once it is committed (group commit)."""
        ticket = _Ticket()
        self._inbox.append((*item, ticket))
        with self._cond:
            if not ticket.done:
                self._step()
            self._cond.notify_all()
        if ticket.error is not None:
            raise ticket.error

    def _wait_result(self, workflow_id: str, timeout: float | None) -> Any:
        with self._cond:
            if not self._serving:
                return self.run_until_complete(workflow_id, timeout)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                outcome = self._outcome(workflow_id)
                if outcome is not None:
                    return outcome()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    msg = f"workflow {workflow_id!r} did not finish within {timeout}s."
                    raise TimeoutError(msg)
                self._cond.wait(remaining)

    def _outcome(self, workflow_id: str) -> Callable[[], Any] | None:
        """A thunk returning/raising the workflow's final outcome, or None while open."""
        info = self._info(workflow_id)
        if info.status == "stalled":
            reason = info.stalled_reason

            def stalled() -> Any:
                msg = f"workflow {workflow_id!r} is stalled: {reason}"
                raise WorkflowStalledError(msg)

            return stalled
        if info.status not in TERMINAL_STATUSES:
            return None
        inst = self._instances.get(workflow_id)
        last = self.store.history(workflow_id)[-1]
        if isinstance(last, WorkflowCompleted):
            value = last.result
            if inst is not None and inst.interp is not None and inst.interp.run_id == last.run_id:
                value = inst.interp.result
            return lambda: value
        if isinstance(last, WorkflowFailed):
            err = last.error

            def failed() -> Any:
                msg = f"workflow {workflow_id!r} failed: {err.type}: {err.message}"
                raise WorkflowFailedError(
                    msg,
                    workflow_id=workflow_id,
                    error_type=err.type,
                    error_message=err.message,
                    traceback=err.traceback,
                )

            return failed
        reason_text = last.reason if isinstance(last, WorkflowCancelled) else None

        def cancelled() -> Any:
            msg = f"workflow {workflow_id!r} was cancelled" + (f": {reason_text}" if reason_text else ".")
            raise WorkflowCancelledError(msg)

        return cancelled

    def _wait_seconds(self, *, activities_only: bool = False) -> float:
        """How long the loop may sleep before a timer or an activity deadline needs it."""
        wait = 0.5
        now_mono = time.monotonic()
        for attempt in self._inflight.values():
            if attempt.deadline is not None:
                wait = min(wait, max(attempt.deadline - now_mono, 0.0))
        if not activities_only and not isinstance(self.clock, ManualClock):
            next_due = self._timers.next_due()
            if next_due is not None:
                wait = min(wait, max((next_due - self.clock.now()).total_seconds(), 0.0))
        return wait

    # --- the step --------------------------------------------------------------------

    def _enqueue(self, workflow_id: str, cls: type[Event], fields: dict[str, Any]) -> None:
        self._queue.setdefault(workflow_id, []).append((cls, fields))

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
        try:
            self.store.append(batch)
        except BaseException as exc:
            for ticket in tickets:
                ticket.error, ticket.done = exc, True
            raise
        self._queue.clear()
        for ticket in tickets:
            ticket.done = True
        for item in batch:
            self._heads[item.workflow_id] = item.events[-1].seq
        for workflow_id, events in committed:
            for event in events:
                self._after_commit(workflow_id, event)
        self._cond.notify_all()
        return True

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
                ticket.error = WorkflowNotFound(f"no workflow with id {workflow_id!r} in this store.")
                ticket.done = True
                continue
            if info is not None and info.status in TERMINAL_STATUSES:
                what = "signal" if kind == "signal" else "cancel request"
                ticket.error = WorkflowClosed(
                    f"workflow {workflow_id!r} is {info.status} and cannot take a {what}."
                )
                ticket.done = True
                continue
            if kind == "signal":
                self._enqueue(workflow_id, SignalReceived, {"name": item[2], "payload": item[3]})
            else:
                self._enqueue(workflow_id, CancelRequested, {"reason": item[2]})
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
        if error.type in ("aion._errors.CodecError", "aion._errors.NotRegisteredError"):
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

        def add(workflow_id: str, cls: type[Event], fields: dict[str, Any]) -> None:
            if workflow_id not in pending:
                pending[workflow_id] = []
                order.append(workflow_id)
            pending[workflow_id].append((cls, fields))

        for workflow_id, items in list(self._queue.items()):
            for cls, fields in items:
                add(workflow_id, cls, fields)
                self._expand(workflow_id, cls, fields, add)
        appends: list[Append] = []
        committed: list[tuple[str, list[Event]]] = []
        for workflow_id in order:
            head = self._head(workflow_id)
            run_id = self._run_id(workflow_id)
            events: list[Event] = []
            for cls, fields in pending[workflow_id]:
                head += 1
                data = dict(fields)
                if cls is WorkflowStarted:
                    run_id = data["run_id"]
                data.setdefault("run_id", run_id)
                events.append(cls(seq=head, recorded_at=now, **data))
            appends.append(Append(workflow_id=workflow_id, expected_seq=self._head(workflow_id), events=events))
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

    def _expand(
        self,
        workflow_id: str,
        cls: type[Event],
        fields: dict[str, Any],
        add: Callable[[str, type[Event], dict[str, Any]], None],
    ) -> None:
        """Add to the batch the events a decision causes directly (same transaction)."""
        inst = self._instances.get(workflow_id)
        if cls is ChildStarted:
            child_id = fields["child_id"]
            if self.store.info(child_id) is None and child_id not in self._queue:
                add(
                    child_id,
                    WorkflowStarted,
                    {
                        "run_id": str(uuid.uuid4()),
                        "name": fields["name"],
                        "args": fields["args"],
                        "parent_id": workflow_id,
                        "parent_run_id": self._run_id(workflow_id),
                        "parent_ordinal": fields["ordinal"],
                    },
                )
                self._queue.setdefault(child_id, [])
        elif cls is SignalSent:
            target = fields["target"]
            status = self._status(target)
            if status is None and target in self._queue:
                status = "running"
            if status is None or status in TERMINAL_STATUSES:
                reason = (
                    f"workflow {target!r} does not exist"
                    if status is None
                    else f"workflow {target!r} is {status}"
                )
                add(workflow_id, SignalDeliveryFailed, {"ordinal": fields["ordinal"], "reason": reason})
            else:
                add(
                    target,
                    SignalReceived,
                    {"name": fields["name"], "payload": fields["payload"], "sender": workflow_id},
                )
                add(workflow_id, SignalDelivered, {"ordinal": fields["ordinal"]})
        elif cls is WorkflowContinuedAsNew and inst is not None:
            add(
                workflow_id,
                WorkflowStarted,
                {
                    "run_id": fields["new_run_id"],
                    "name": inst.name,
                    "args": fields["args"],
                    "parent_id": inst.parent_id,
                    "previous_run_id": inst.run_id,
                },
            )
            carried = inst.interp.unconsumed_signals() if inst.interp is not None else []
            for name, payload in carried:
                add(workflow_id, SignalReceived, {"name": name, "payload": payload})
        elif cls in (WorkflowCompleted, WorkflowFailed, WorkflowCancelled) and inst is not None:
            if cls is WorkflowCancelled:
                for child_id in inst.children:
                    if self._status(child_id) not in TERMINAL_STATUSES:
                        add(child_id, CancelRequested, {"reason": f"parent {workflow_id!r} was cancelled"})
            self._notify_parent(inst, cls, fields, add)

    def _notify_parent(
        self,
        child: Instance,
        cls: type[Event],
        fields: dict[str, Any],
        add: Callable[[str, type[Event], dict[str, Any]], None],
    ) -> None:
        if child.parent_id is None:
            return
        parent = self._instances.get(child.parent_id)
        if parent is None or parent.interp is None or parent.interp.status != "running":
            return
        for ordinal, child_id in parent.interp.pending_children().items():
            if child_id == child.workflow_id:
                add(parent.workflow_id, *_child_outcome(ordinal, child_id, cls, fields))

    # --- after a commit: apply outcomes, act on decisions -------------------------

    def _after_commit(self, workflow_id: str, event: Event) -> None:
        if isinstance(event, WorkflowStarted):
            self._begin_run(workflow_id, event)
            return
        inst = self._instances.get(workflow_id)
        if inst is None:
            return
        family = event.FAMILY
        if family == "outcome":
            if isinstance(event, ActivityFailed) and event.retry_at is not None:
                self._timers.arm((workflow_id, event.run_id, event.ordinal), event.retry_at, "retry")
            if inst.interp is not None and inst.interp.run_id == event.run_id:
                inst.interp.apply(event)
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
            self._timers.arm(key, event.fire_at, "sleep" if isinstance(event, TimerStarted) else "timeout")
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
        elif isinstance(event, WorkflowContinuedAsNew):
            self._forget_run(inst)

    def _forget_run(self, inst: Instance) -> None:
        for key in [k for k in self._specs if k[0] == inst.workflow_id and k[1] == inst.run_id]:
            self._specs.pop(key, None)
            self._inflight.pop(key, None)

    def _check_child(self, parent: Instance, ordinal: int, child_id: str) -> None:
        """Queue the outcome of an awaited child that already finished."""
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
        self._enqueue(parent.workflow_id, *_child_outcome(ordinal, child_id, cls, fields))

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
                reason = f"activity {spec.name!r} is not registered with this engine (registered: {known})."
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
            self._inbox.append(("activity", key, attempt_no, outcome))
            self._wake()

        attempt.future = self._runner.submit(definition, spec.args, spec.kwargs, info, done)

    # --- recovery ----------------------------------------------------------------

    def _recover(self) -> None:
        """Replay every unfinished workflow and pick up where it stopped."""
        open_infos = [i for i in self.store.workflows() if i.status in ("running", "stalled")]
        if not open_infos:
            return
        histories = self.store.histories([i.workflow_id for i in open_infos])
        timers: dict[str, list[Any]] = {}
        for timer in self.store.due_timers():
            timers.setdefault(timer.workflow_id, []).append(timer)
        for info in open_infos:
            history = histories.get(info.workflow_id, [])
            inst = revive(self, info.workflow_id, history, previous=info)
            self._instances[info.workflow_id] = inst
            self._heads[info.workflow_id] = info.last_seq
            self._collect(inst)
            if inst.interp is None or inst.interp.status != "running":
                continue
            for timer in timers.get(info.workflow_id, []):
                if timer.run_id == inst.run_id:
                    self._timers.arm((info.workflow_id, timer.run_id, timer.ordinal), timer.fire_at, timer.kind)
            for key, spec in inst.activities.items():
                self._specs[key] = spec
                if not spec.waiting_retry:
                    self._dispatch(key, spec, spec.attempts + 1)
            for ordinal, child_id in inst.interp.pending_children().items():
                self._check_child(inst, ordinal, child_id)


def _child_outcome(
    ordinal: int, child_id: str, cls: type[Event], fields: dict[str, Any]
) -> tuple[type[Event], dict[str, Any]]:
    """The parent-side outcome event for a child's terminal decision."""
    if cls is WorkflowCompleted:
        return ChildCompleted, {"ordinal": ordinal, "child_id": child_id, "result": fields.get("result")}
    if cls is WorkflowFailed:
        return ChildFailed, {"ordinal": ordinal, "child_id": child_id, "status": "failed", "error": fields["error"]}
    reason = fields.get("reason") or "cancelled"
    return ChildFailed, {
        "ordinal": ordinal,
        "child_id": child_id,
        "status": "cancelled",
        "error": ErrorInfo(type="aion.Cancelled", message=reason),
    }



