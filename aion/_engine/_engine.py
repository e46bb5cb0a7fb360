"""The public engine: start, signal, cancel, query, inspect and drive workflows.

The machinery (one committed batch per step, recovery) lives in
`aion._engine._runtime`; this module is the API users call.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from aion import _codec
from aion._clock import Clock, ManualClock, SystemClock
from aion._definitions import Registry, import_name, workflow_definition
from aion._engine import _rerun
from aion._engine._activities import ActivityExecutor, ActivityRunner
from aion._engine._grouping import busy_steps
from aion._engine._handle import WorkflowDescription, WorkflowHandle, describe_workflow
from aion._engine._inbox import CancelRequest, SignalRequest, StartRequest, Ticket
from aion._engine._member import MemberStore
from aion._engine._recovery import recover
from aion._engine._results import final_outcome
from aion._engine._runtime import Runtime
from aion._engine._tracing import NO_TRACING, NoTracing
from aion._errors import (
    ConfigurationError,
    QueryError,
    StoreError,
    WorkflowArgumentError,
    WorkflowBlocked,
    WorkflowNotFound,
)
from aion._events import Event, WorkflowStarted
from aion._gcpause import paused_gc
from aion._interpreter._support import argument_problem
from aion._openers import open_engine_store
from aion._replay import replay
from aion.store import Store, WorkflowInfo


class Engine:
    """Runs workflows on a history store (an embedded DuckDB file by default).

    Args:
        path: The DuckDB file (created if missing; ``":memory:"`` for a
            throwaway database), or a ``postgresql://`` URL: the engine is then
            one of many workers on that database (a session with a lease that
            claims workflows of its registered types). Opening an existing
            store recovers it: every unfinished workflow (on PostgreSQL, every
            one it claimed) is replayed and continues.
        store: A store to use instead of ``path`` (e.g. `MemoryStore()`).
        workflows: Workflow functions the engine can run.
        activities: Activity functions the engine can call.
        clock: Where time comes from; `ManualClock` for virtual time.
        max_workers: Threads for sync activities.
        executor: Where activity attempts run instead of the default thread
            pool (see `ActivityExecutor`). An executor whose ``waits`` is False
            completes attempts only when told to (``aion.testing`` uses one to
            choose the order and timing of completions); `run_until_idle` then
            returns with those attempts still in flight.
        max_resident: Keep at most this many running workflows in memory:
            idle ones (waiting only on timers and signals) are evicted and
            rebuilt by replaying their history when something wakes them.
            None keeps every running workflow resident.
        tracing: An `aion.otel.Tracing` to emit OpenTelemetry spans (one per
            workflow run, one per activity attempt); None emits none.
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
        executor: ActivityExecutor | None = None,
        max_resident: int | None = None,
        tracing: NoTracing | None = None,
    ) -> None:
        if store is not None and path is not None:
            msg = "give Engine either a path or a store, not both."
            raise ConfigurationError(msg)
        registry = Registry(workflows, activities)
        opened: Store = (
            store
            if store is not None
            else open_engine_store(path or "aion.duckdb", list(registry.workflows))
        )
        clock = clock or SystemClock()
        runner = executor if executor is not None else ActivityRunner(max_workers)
        try:
            rt = Runtime(
                opened,
                registry,
                clock,
                runner,
                max_resident,
                owns_store=store is None,
                tracing=tracing or NO_TRACING,
            )
        except BaseException:
            runner.shutdown()
            if store is None:
                opened.close()
            raise
        self._runtime = rt
        #: The store that makes this engine a cluster member (it says how to serve), if any.
        self._membership = opened if isinstance(opened, MemberStore) else None
        if isinstance(clock, ManualClock):
            clock.subscribe(rt.wake)
        with rt.lock, paused_gc():  # recovery builds only live objects
            recover(rt)
            if self._membership is not None:
                self._membership.recovered()  # a cluster member recovered only what it claimed
            rt.step()  # make what recovery decided (stalls, resumptions) durable now

    @property
    def store(self) -> Store:
        """The history store this engine records into."""
        return self._runtime.store

    @store.setter
    def store(self, store: Store) -> None:
        # Kept assignable (it was a plain attribute): a test kit may wrap the store
        # the engine recovered from, to record what it appends from then on.
        self._runtime.state.store = store

    @property
    def registry(self) -> Registry:
        """The workflows and activities this engine runs."""
        return self._runtime.state.registry

    @property
    def clock(self) -> Clock:
        """Where this engine's time comes from."""
        return self._runtime.clock

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop running activities' bookkeeping and close the store (if the engine opened it)."""
        self._runtime.close()

    # --- public API -------------------------------------------------------------------

    def start(
        self, workflow: Callable[..., Any] | str, *args: Any, workflow_id: str | None = None
    ) -> WorkflowHandle:
        """Record and start a workflow; returns its handle once the start is durable.

        Raises:
            aion.NotRegisteredError: The workflow is not registered with this engine.
            aion.WorkflowArgumentError: Its signature does not accept ``args``
                (checked before anything is recorded).
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
        problem = argument_problem(self.registry.workflow(name).fn, args)
        if problem is not None:
            msg = f"cannot start workflow {name!r}: {problem}."
            raise WorkflowArgumentError(msg)
        workflow_id = workflow_id or str(uuid.uuid4())
        self._check_open()
        fields = {
            "run_id": str(uuid.uuid4()),
            "name": name,
            "args": json_args,
            "workflow_id": workflow_id,
            "code": import_name(self.registry.workflow(name).fn),
        }
        # Through the inbox, as signals go: starts from many threads share a commit.
        request = StartRequest(workflow_id=workflow_id, fields=fields, ticket=Ticket())
        try:
            self._runtime.submit(request)
        except StoreError:
            with self._runtime.lock:
                refused = self._runtime.state.unrecorded.pop(workflow_id, None)
                if refused is not None and self.store.info(workflow_id) is None:
                    msg = f"workflow {workflow_id!r} was not started: {refused}"
                    raise StoreError(msg) from None
            raise
        return WorkflowHandle(workflow_id, self._wait_result)

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
        self._check_open()
        request = SignalRequest(
            workflow_id=workflow_id, name=name, payload=json_payload, ticket=Ticket()
        )
        self._runtime.submit(request)

    def cancel(self, workflow_id: str, reason: str | None = None) -> None:
        """Ask a workflow to cancel: `aion.Cancelled` is thrown in at its current yield.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: The workflow has finished.
        """
        self._check_open()
        self._runtime.submit(CancelRequest(workflow_id=workflow_id, reason=reason, ticket=Ticket()))

    def terminate(self, workflow_id: str, reason: str | None = None) -> None:
        """End a workflow now, with no compensation; returns once the request is durable.

        Unlike `cancel`, nothing is thrown into the generator: it is closed
        where it waits, its pending activities and timers are abandoned, and
        the run ends ``cancelled`` with a `WorkflowCancelled` event whose
        ``terminated`` is true and whose ``reason`` is ``reason``. Children it
        started are closed as a cancel would close them (`aion.ParentClose`).
        A stalled workflow can be terminated too.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: The workflow has finished.
        """
        self._check_open()
        request = CancelRequest(
            workflow_id=workflow_id, reason=reason, terminate=True, ticket=Ticket()
        )
        self._runtime.submit(request)

    def reset(self, workflow_id: str, seq: int, reason: str | None = None) -> str:
        """Start a new run from the history up to ``seq`` (see `aion.lineage`); the new run id.

        Recorded outcomes up to ``seq`` are reused, the rest is re-executed; the
        old run stays in history (an open one is first ended, terminated).
        """
        self._check_open()
        return _rerun.reset(self._runtime, workflow_id, seq, reason)

    def fork(self, workflow_id: str, seq: int, new_id: str | None = None) -> str:
        """Start a new workflow from ``workflow_id``'s history up to ``seq``; its id."""
        self._check_open()
        target = new_id or f"{workflow_id}-fork-{uuid.uuid4().hex[:8]}"
        return _rerun.fork(self._runtime, workflow_id, seq, target)

    def retry(self, workflow_id: str) -> str:
        """Start a new run of a failed workflow from just before it failed; the new run id.

        A final activity failure is attempted again (with its whole retry
        budget); a failure the workflow code raised runs the code on from there.
        """
        self._check_open()
        return _rerun.retry(self._runtime, workflow_id)

    def resume(
        self, workflow_id: str, *, workflows: Iterable[Any] = (), activities: Iterable[Any] = ()
    ) -> str:
        """Replay a stalled workflow again (after replacing code by name); its new status."""
        self._check_open()
        return _rerun.resume(self._runtime, workflow_id, workflows, activities)

    def query(self, workflow_id: str, name: str, *args: Any) -> Any:
        """Answer a query from a workflow's `on_query` handlers; records nothing.

        A running workflow answers from its live generator; a closed one is
        replayed to its end first.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.QueryError: Unknown query name, or the handler raised.
        """
        with self._runtime.lock:
            inst = self._runtime.state.instances.get(workflow_id)
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
        with self._runtime.lock:
            events = self.store.history(workflow_id)
        if not events:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return events

    def list(
        self, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Workflows with their status, oldest first, optionally filtered."""
        with self._runtime.lock:
            return self.store.workflows(status=status, workflow_type=workflow_type)

    def describe(self, workflow_id: str) -> WorkflowDescription:
        """Status, timestamps, why it is stalled, and what it waits on.

        Raises:
            aion.WorkflowNotFound: No such workflow.
        """
        with self._runtime.lock:
            info = self._info(workflow_id)
            refused = self._runtime.state.unrecorded.get(workflow_id)
            if refused is not None and info.status == "running":
                # Stalled in memory only: the store refused even the WorkflowStalled.
                info = attrs.evolve(info, status="stalled", stalled_reason=refused)
            # The same derivation for a resident workflow, an evicted one and the
            # CLI's offline describe: from history, plus the decisions queued for
            # the next commit (made by the code since the last step).
            history = [
                *self.store.history(workflow_id),
                *self._runtime.state.queued_events(workflow_id),
            ]
            timers = tuple(t for t in self.store.due_timers() if t.workflow_id == workflow_id)
        return describe_workflow(info, history, timers)

    def run_until_idle(self) -> None:
        """Run everything runnable now, then return; never moves virtual time.

        Waits for activities already in flight (unless the executor does not
        wait: see ``executor``), fires due timers, and returns when no workflow
        can progress without time passing or a signal arriving.
        """
        rt = self._runtime
        with rt.cond:
            while True:
                self._check_open()
                if rt.step():
                    continue
                if not rt.attempts.inflight or not rt.attempts.runner.waits:
                    return
                rt.await_inbox(self._wait_seconds(activities_only=True))

    def run_until_complete(self, workflow_id: str, timeout: float | None = None) -> Any:
        """Drive the engine until a workflow finishes; return its result or raise its error.

        Under `ManualClock` the clock jumps to the next due timer whenever
        nothing else can run, as long as the workflow itself (or a child it
        started that is still running) has a timer pending: other workflows'
        timers fire on the way, but a recurring timer elsewhere never keeps a
        workflow that waits for a signal spinning. On wall-clock time with a
        ``timeout``, a workflow waiting for a signal is waited for (another
        thread may send it).

        Raises:
            aion.WorkflowBlocked: Nothing can move the workflow on (it waits for a
                signal, neither it nor its running children have a timer pending,
                and there is no timeout to wait out).
            aion.WorkflowFailedError / WorkflowCancelledError / WorkflowStalledError:
                It ended that way.
            TimeoutError: ``timeout`` seconds of wall time passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        rt = self._runtime
        with rt.cond:
            self._info(workflow_id)
            while True:
                self.run_until_idle()
                outcome = self._outcome(workflow_id)
                if outcome is not None:
                    return outcome()
                # Only a timer of the workflow or of its running children can move it
                # on by itself; jumps stop at the earliest timer anywhere on the way.
                own_due = rt.timers.next_due_among(rt.state.family(workflow_id))
                # On wall-clock time with a timeout, another thread may still send the
                # signal the workflow waits for: wait for it instead of giving up.
                can_wait = deadline is not None and not isinstance(self.clock, ManualClock)
                if own_due is None and not can_wait:
                    info = self._info(workflow_id)
                    inst = rt.state.instances.get(workflow_id)
                    waits = inst.interp.waiting_for() if inst and inst.interp else []
                    what = "; ".join(waits) or info.status
                    msg = (
                        f"workflow {workflow_id!r} cannot progress: it waits for {what}, "
                        "and no timer of its own is pending. Send the signal it expects."
                    )
                    raise WorkflowBlocked(msg)
                if isinstance(self.clock, ManualClock) and own_due is not None:
                    next_due = rt.timers.next_due()
                    self.clock.advance_to(own_due if next_due is None else min(next_due, own_due))
                    continue
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    msg = f"workflow {workflow_id!r} did not finish within {timeout}s."
                    raise TimeoutError(msg)
                wait = self._wait_seconds()
                rt.await_inbox(wait if remaining is None else min(wait, remaining))

    def serve(self, stop: threading.Event | None = None) -> None:
        """Run as a long-lived worker until ``stop`` is set or `close` is called.

        Fires timers as they come due, runs activities, and applies signals
        sent from other threads. On a PostgreSQL URL the engine serves as one
        of many workers on that database (README "Scaling out").
        """
        if self._membership is not None:
            self._membership.serve_member(self, self._serve_loop, stop or threading.Event())
        else:
            self._serve_loop(stop)

    def _serve_loop(self, stop: threading.Event | None = None) -> None:
        rt = self._runtime
        with rt.cond:
            rt.serving.add(threading.get_ident())
            try:
                while not rt.closed and not (stop is not None and stop.is_set()):
                    try:
                        if busy_steps(rt, stop):  # group commit, collector paused a while
                            continue
                    except StoreError:
                        if rt.closed:
                            raise  # the store was lost for good: a restart recovers the file
                        rt.cond.wait(0.5)  # transient store failure: retry the batch
                        continue
                    rt.await_inbox(min(self._wait_seconds(), 0.5))
            finally:
                rt.serving.discard(threading.get_ident())

    # --- helpers for the API --------------------------------------------------------

    def _check_open(self) -> None:
        if self._runtime.closed:
            msg = "this engine is closed."
            raise ConfigurationError(msg)

    def _info(self, workflow_id: str) -> WorkflowInfo:
        info = self.store.info(workflow_id)
        if info is None:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return info

    def _wait_result(self, workflow_id: str, timeout: float | None) -> Any:
        rt = self._runtime
        with rt.cond:
            if not rt.serving:
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
                rt.cond.wait(remaining)

    def _outcome(self, workflow_id: str) -> Callable[[], Any] | None:
        """A thunk returning/raising the workflow's final outcome, or None while open."""
        info = self._info(workflow_id)
        unrecorded = self._runtime.state.unrecorded.get(workflow_id)
        return final_outcome(info, lambda: self.store.history(workflow_id)[-1], unrecorded)

    def _wait_seconds(self, *, activities_only: bool = False) -> float:
        """How long the loop may sleep before a timer or an activity deadline needs it."""
        wait = 0.5
        now_mono = time.monotonic()
        for attempt in self._runtime.attempts.inflight.values():
            if attempt.deadline is not None:
                wait = min(wait, max(attempt.deadline - now_mono, 0.0))
        if not activities_only and not isinstance(self.clock, ManualClock):
            next_due = self._runtime.timers.next_due()
            if next_due is not None:
                wait = min(wait, max((next_due - self.clock.now()).total_seconds(), 0.0))
        return wait
