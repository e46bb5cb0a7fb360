"""The schedule driver: runs a workflow on a real `Engine`, one chosen action at a time.

Between actions the engine runs until idle. The actions on offer at each
point are: complete (or fail) one pending activity attempt, deliver the next
scripted signal, or move virtual time to the next due timer. A `Schedule`
picks among them, so the same schedule always produces the same history.

Every batch the engine commits is recorded, which is what lets a test
rebuild the store as it stood after any commit (a crash point), start a
fresh engine on it (recovery), and redo the actions whose effects were lost.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from aion import _codec
from aion._clock import ManualClock
from aion._definitions import activity, activity_definition, workflow_definition
from aion._engine import Engine
from aion._errors import AionError, WorkflowClosed, WorkflowNotFound
from aion._events import TERMINAL_STATUSES, Event, WorkflowCompleted, WorkflowFailed
from aion.store import Append, MemoryStore, Store
from aion.testing._audit import Auditor, audited
from aion.testing._executor import AttemptKey, Mock, ScheduledExecutor

#: Statuses at which driving a workflow stops.
FINISHED = frozenset(TERMINAL_STATUSES) | {"stalled"}


class ScheduleError(AionError, RuntimeError):
    """A schedule could not be driven (it ran past its action budget)."""


@attrs.frozen
class SignalSpec:
    """A scripted signal.

    Attributes:
        name: The signal name.
        payload: Its payload.
        workflow_id: The target (None: the workflow under test).
        at: Earliest virtual time after the start when it may arrive (None: any time).
    """

    name: str
    payload: Any = None
    workflow_id: str | None = None
    at: timedelta | None = None


@attrs.frozen
class Step:
    """One choice of a schedule: which available action, and whether to fail it.

    Attributes:
        index: Picks ``actions[index % len(actions)]``; actions are listed as
            completions (by workflow, ordinal, attempt), then the next signal,
            then moving time to the next timer.
        fail: Fail the attempt (when the chosen action completes an activity
            and the check allows failures).
        exhaust: Like ``fail``, and fail every later attempt of the same call
            too, so its retries run out and `aion.ActivityError` reaches the
            workflow.
        cancel: Cancel the workflow under test instead (when it is running and
            the check allows cancellation), so `aion.Cancelled` handlers run.
    """

    index: int = 0
    fail: bool = False
    exhaust: bool = False
    cancel: bool = False


@attrs.frozen
class Schedule:
    """A sequence of choices; past its end every choice is ``Step(0)``.

    The empty schedule completes activities as soon as they start, in order,
    then delivers signals, then lets time pass.
    """

    steps: tuple[Step, ...] = ()

    def at(self, i: int) -> Step:
        """The i-th choice."""
        return self.steps[i] if i < len(self.steps) else Step()


@attrs.frozen
class Action:
    """One thing the driver did.

    Attributes:
        kind: ``complete``, ``fail``, ``signal``, ``advance`` or ``cancel``.
        key: The attempt, for ``complete`` and ``fail``.
        signal: The index of the scripted signal, for ``signal``.
        to: The new virtual time, for ``advance``.
        label: A readable description.
        committed_before: Batches committed when the action was taken.
    """

    kind: str
    label: str
    key: AttemptKey | None = None
    signal: int | None = None
    to: datetime | None = None
    committed_before: int = 0


class RecordingStore:
    """A store wrapper that remembers every committed batch (crash points)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.batches: list[list[Append]] = []

    def append(self, batch: Sequence[Append]) -> None:
        """Append, and remember the batch once it is committed."""
        self.inner.append(batch)
        self.batches.append(list(batch))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@attrs.define
class Setup:
    """Everything fixed across the schedules of one check."""

    workflow: Callable[..., Any]
    args: tuple[Any, ...]
    workflow_id: str = "wf"
    workflows: list[Callable[..., Any]] = attrs.Factory(list)
    activities: list[Callable[..., Any]] = attrs.Factory(list)
    mocks: dict[str, Mock] = attrs.Factory(dict)
    signals: tuple[SignalSpec, ...] = ()
    failures: bool = True
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    store: str = "memory"
    max_actions: int = 2000
    cancel: bool = False
    auditor: Auditor | None = None
    registered: list[Any] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        names = {workflow_definition(w).name for w in self.workflows}
        if workflow_definition(self.workflow).name not in names:
            self.workflows = [self.workflow, *self.workflows]
        known = {activity_definition(a).name for a in self.activities}
        for name in sorted(set(self.mocks) - known):
            self.activities.append(stub_activity(name))
        auditor = self.auditor
        self.registered = (
            list(self.workflows)
            if auditor is None
            else [audited(w, auditor) for w in self.workflows]
        )

    @property
    def name(self) -> str:
        """The registered name of the workflow under test."""
        return workflow_definition(self.workflow).name


def stub_activity(name: str) -> Callable[..., Any]:
    """A registered stand-in for an activity known only by name (it must be mocked)."""

    def stub(*args: Any, **kwargs: Any) -> Any:
        msg = f"activity {name!r} has no implementation here; give it a mock."
        raise AionError(msg)

    stub.__qualname__ = stub.__name__ = f"stub[{name}]"
    return activity(name=name)(stub)


@attrs.define
class Run:
    """One driven run: the engine, its recorded batches and what was done."""

    setup: Setup
    engine: Engine
    executor: ScheduledExecutor
    clock: ManualClock
    store: RecordingStore
    trace: list[Action]
    workdir: Path | None = None
    delivered: set[int] = attrs.Factory(set)
    owns_store: bool = False
    exhausted: set[tuple[str, int]] = attrs.Factory(set)

    def outcome(self) -> tuple[str, Any]:
        """The workflow under test's status and result (or error type and message)."""
        return outcome_of(self.store, self.setup.workflow_id)

    def histories(self) -> dict[str, list[Event]]:
        """Every workflow's history in the store."""
        histories: dict[str, list[Event]] = self.store.histories()
        return histories

    def close(self) -> None:
        """Close the engine and its store; remove temporary files."""
        self.engine.close()
        if not self.owns_store:
            self.store.inner.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def outcome_of(store: Store, workflow_id: str) -> tuple[str, Any]:
    """``(status, result)`` / ``(status, "Type: message")`` / ``(status, None)``."""
    info = store.info(workflow_id)
    if info is None:
        return ("missing", None)
    last = store.history(workflow_id)[-1]
    if info.status == "completed" and isinstance(last, WorkflowCompleted):
        return ("completed", _codec.dumps(last.result))
    if info.status == "failed" and isinstance(last, WorkflowFailed):
        return ("failed", f"{last.error.type}: {last.error.message}")
    return (info.status, None)


def _new_store(setup: Setup) -> tuple[Store, Path | None]:
    if setup.store == "memory":
        return MemoryStore(), None
    from aion.store import DuckDBStore  # only store="duckdb" pays for importing duckdb

    workdir = Path(tempfile.mkdtemp(prefix="aion-testing-"))
    return DuckDBStore(str(workdir / "run.duckdb")), workdir


def new_engine(
    setup: Setup, store: Store | None, path: str | None, clock: ManualClock, ex: ScheduledExecutor
) -> Engine:
    """An engine for a kit run: the setup's code, virtual time, scheduled attempts."""
    return Engine(
        path,
        store=store,
        workflows=setup.registered,
        activities=setup.activities,
        clock=clock,
        executor=ex,
    )


def start(setup: Setup) -> Run:
    """Start the workflow under test on a fresh engine and store."""
    inner, workdir = _new_store(setup)
    store = RecordingStore(inner)
    clock = ManualClock(setup.start)
    executor = ScheduledExecutor(setup.mocks)
    engine = new_engine(setup, store, None, clock, executor)
    run = Run(setup, engine, executor, clock, store, [], workdir)
    engine.start(setup.name, *setup.args, workflow_id=setup.workflow_id)
    return run


def available(run: Run) -> list[Action]:
    """The actions on offer now, in their canonical order."""
    actions: list[Action] = []
    for key in run.executor.pending():
        actions.append(Action("complete", f"complete {key[0]} #{key[1]} attempt {key[2]}", key=key))
    now = run.clock.now()
    for i, spec in enumerate(run.setup.signals):
        if i in run.delivered:
            continue
        if spec.at is not None and run.setup.start + spec.at > now:
            break
        target = spec.workflow_id or run.setup.workflow_id
        info = run.store.info(target)
        if info is None:
            break
        if info.status in TERMINAL_STATUSES:
            run.delivered.add(i)  # its target is gone: the signal is dropped
            continue
        actions.append(Action("signal", f"signal {spec.name!r} -> {target}", signal=i))
        break
    times = [t.fire_at for t in run.store.due_timers() if t.fire_at > now]
    times += [
        run.setup.start + s.at
        for i, s in enumerate(run.setup.signals)
        if i not in run.delivered and s.at is not None and run.setup.start + s.at > now
    ]
    if times:
        to = min(times)
        actions.append(
            Action("advance", f"advance to +{(to - run.setup.start).total_seconds():g}s", to=to)
        )
    return actions


def perform(run: Run, action: Action) -> None:
    """Do one action (the engine then runs until idle)."""
    before = len(run.store.batches)
    if action.kind in ("complete", "fail"):
        assert action.key is not None
        if action.label.startswith("exhaust"):
            run.exhausted.add((action.key[0], action.key[1]))
        if action.key in run.executor.pending():
            run.executor.complete(action.key, fail=action.kind == "fail")
    elif action.kind == "signal":
        assert action.signal is not None
        spec = run.setup.signals[action.signal]
        run.delivered.add(action.signal)
        with contextlib.suppress(WorkflowClosed, WorkflowNotFound):
            run.engine.signal(spec.workflow_id or run.setup.workflow_id, spec.name, spec.payload)
    elif action.kind == "cancel":
        with contextlib.suppress(WorkflowClosed, WorkflowNotFound):
            run.engine.cancel(run.setup.workflow_id, "cancelled by the schedule")
    else:
        assert action.to is not None
        run.clock.advance_to(action.to)
    run.trace.append(attrs.evolve(action, committed_before=before))


Chooser = Callable[[int, list[Action]], Action]


CANCEL = Action("cancel", "cancel the workflow")


def _failing(action: Action) -> Action:
    return attrs.evolve(action, kind="fail", label="fail" + action.label[len("complete") :])


def schedule_chooser(schedule: Schedule, failures: bool, cancel: bool = False) -> Chooser:
    """Pick actions as ``schedule`` says."""
    cancelled: list[bool] = []

    def choose(i: int, actions: list[Action]) -> Action:
        step = schedule.at(i)
        if step.cancel and cancel and not cancelled:
            cancelled.append(True)
            return CANCEL
        action = actions[step.index % len(actions)]
        if (step.fail or step.exhaust) and failures and action.kind == "complete":
            assert action.key is not None
            label = "exhaust" + action.label[len("complete") :] if step.exhaust else ""
            action = _failing(action)
            if label:
                action = attrs.evolve(action, label=label)
        return action

    return choose


def _exhausting(run: Run) -> Action | None:
    """A pending attempt of a call whose retries the schedule is running out, failed."""
    for key in run.executor.pending():
        if (key[0], key[1]) in run.exhausted:
            label = f"complete {key[0]} #{key[1]} attempt {key[2]}"
            return _failing(Action("complete", label, key=key))
    return None


def finished(run: Run) -> bool:
    """Whether the workflow under test reached a status where driving stops."""
    info = run.store.info(run.setup.workflow_id)
    return info is not None and info.status in FINISHED


def settle_threads(run: Run) -> None:
    """Let threads and pool work the workflow code started finish before the next action.

    In production time passes between steps (activities take time), so a
    thread a workflow starts has usually finished by its next step; on replay
    no time passes. Waiting for that work here (the audit knows exactly which
    threads and futures the steps started, daemon or not; idle pool workers
    are never waited for) makes that difference certain.
    """
    if run.setup.auditor is not None:
        run.setup.auditor.settle()


#: Actions after which a run whose code the audit already caught is stopped.
_DOOMED_AFTER = 50


def _doomed(run: Run, actions: int) -> bool:
    """Whether the audit already caught this run's code and it has run long enough.

    Then the check fails whatever follows, and a loop on something outside
    the history (a ``time.monotonic()`` deadline that virtual time never
    reaches) would otherwise run to the action budget, in every schedule.
    """
    auditor = run.setup.auditor
    return actions >= _DOOMED_AFTER and auditor is not None and bool(auditor.findings)


def drive(run: Run, choose: Chooser) -> Run:
    """Run until the workflow finishes, nothing can move it on, or the audit dooms it."""
    for i in range(run.setup.max_actions):
        if _doomed(run, i):
            return run
        run.engine.run_until_idle()
        settle_threads(run)
        run.engine.run_until_idle()
        if finished(run):
            return run
        forced = _exhausting(run)
        if forced is not None:
            perform(run, forced)
            continue
        actions = available(run)
        if not actions:
            return run
        perform(run, choose(i, actions))
    if _doomed(run, run.setup.max_actions):
        return run
    msg = f"the schedule took more than {run.setup.max_actions} actions; is the workflow looping?"
    raise ScheduleError(msg)


def run_schedule(setup: Setup, schedule: Schedule) -> Run:
    """Start and drive one run under ``schedule``."""
    run = start(setup)
    try:
        return drive(run, schedule_chooser(schedule, setup.failures, setup.cancel))
    except BaseException:
        run.close()
        raise
