"""`WorkflowEnvironment`: run workflows in a test with virtual time and mocked activities.

No server, no network, and no file unless asked for (``store="duckdb"``).
Activities complete as soon as they are called, in order; time jumps to the
next timer (or scripted signal) whenever nothing else can happen, so a
workflow that sleeps for a month finishes in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from aion._clock import ManualClock
from aion._definitions import workflow_definition
from aion._engine import Engine
from aion._errors import ConfigurationError
from aion._events import Event, WorkflowFailed
from aion.testing._driver import Run, Schedule, Setup, SignalSpec, drive, schedule_chooser, start
from aion.testing._executor import Mock, normalize_mocks


@attrs.frozen(kw_only=True)
class RunResult:
    """How a workflow run in a `WorkflowEnvironment` ended.

    Attributes:
        workflow_id: The workflow's id.
        status: ``completed``, ``failed``, ``cancelled``, ``stalled``, or
            ``running`` when it waits for something nothing will send.
        result: The returned value (completed runs).
        error_type: The qualified exception type (failed runs).
        error_message: The exception message (failed runs).
        history: The recorded history.
        waiting: What a ``running`` workflow waits for.
        calls: Activity calls made, as ``(name, args)``, in order.
    """

    workflow_id: str
    status: str
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    history: tuple[Event, ...] = ()
    waiting: tuple[str, ...] = ()
    calls: tuple[tuple[str, list[Any]], ...] = ()


class WorkflowEnvironment:
    """An engine on an in-memory store with virtual time and activity mocks.

    Args:
        workflows: Workflows that may be started (children included; the one
            passed to `run` is added automatically).
        activities: Activities that run for real when not mocked.
        mocks: Activity (function or registered name) -> a value to return,
            an exception to raise, or a function called with the arguments.
        store: ``"memory"`` (default) or ``"duckdb"`` (a temporary file).
        start: The virtual time at which runs start (aware; default 2026-01-01 UTC).

    Example::

        with WorkflowEnvironment(mocks={charge: {"id": "r-1"}}) as env:
            env.signal_at(timedelta(hours=1), "approve", True)
            run = env.run(order, "o-1", 1299)
            assert run.status == "completed"
    """

    def __init__(
        self,
        *,
        workflows: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
        mocks: Mapping[Any, Any] | None = None,
        store: str = "memory",
        start: datetime | None = None,
    ) -> None:
        if store not in ("memory", "duckdb"):
            msg = f"WorkflowEnvironment(store=...) takes 'memory' or 'duckdb', got {store!r}."
            raise ConfigurationError(msg)
        self.workflows = list(workflows)
        self.activities = list(activities)
        self.mocks: dict[str, Mock] = normalize_mocks(mocks)
        self.store_kind = store
        self.start = start
        self.signals: list[SignalSpec] = []
        self._runs: list[Run] = []

    def __enter__(self) -> WorkflowEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mock(self, activity: Callable[..., Any] | str, behaviour: Any) -> None:
        """Replace an activity (function or registered name) for the next runs."""
        self.mocks.update(normalize_mocks({activity: behaviour}))

    def signal_at(
        self,
        at: timedelta | float,
        name: str,
        payload: Any = None,
        *,
        workflow_id: str | None = None,
    ) -> None:
        """Script a signal to arrive ``at`` (virtual time after the start) in the next run.

        Signals are delivered in the order they were scripted; a signal whose
        target has finished is dropped.
        """
        delta = at if isinstance(at, timedelta) else timedelta(seconds=at)
        self.signals.append(SignalSpec(name, payload, workflow_id, delta))

    @property
    def engine(self) -> Engine:
        """The engine of the latest run (for `query`, `describe`, `history`)."""
        if not self._runs:
            msg = "the environment has not run a workflow yet."
            raise ConfigurationError(msg)
        return self._runs[-1].engine

    @property
    def clock(self) -> ManualClock:
        """The virtual clock of the latest run."""
        if not self._runs:
            msg = "the environment has not run a workflow yet."
            raise ConfigurationError(msg)
        return self._runs[-1].clock

    def run(self, workflow: Callable[..., Any], *args: Any, workflow_id: str = "wf") -> RunResult:
        """Start ``workflow(*args)`` on a fresh engine and drive it to its end.

        Activities complete as soon as they are called, scripted signals
        arrive at their times, and virtual time jumps to the next timer when
        nothing else can happen. A workflow left waiting for something that
        will never come ends the run with status ``running``.
        """
        workflow_definition(workflow)
        extra: dict[str, Any] = {"start": self.start} if self.start is not None else {}
        setup = Setup(
            workflow,
            tuple(args),
            workflow_id=workflow_id,
            workflows=list(self.workflows),
            activities=list(self.activities),
            mocks=dict(self.mocks),
            signals=tuple(self.signals),
            failures=False,
            store=self.store_kind,
            **extra,
        )
        self.signals = []
        run = start(setup)
        self._runs.append(run)
        drive(run, schedule_chooser(Schedule(), failures=False))
        return self._result(run)

    def _result(self, run: Run) -> RunResult:
        wid = run.setup.workflow_id
        engine = run.engine
        info = engine.describe(wid)
        history = tuple(engine.history(wid))
        fields: dict[str, Any] = {}
        if info.status == "completed":
            fields["result"] = engine.run_until_complete(wid)
        elif info.status == "failed":
            last = history[-1]
            if isinstance(last, WorkflowFailed):
                fields["error_type"] = last.error.type
                fields["error_message"] = last.error.message
        elif info.status == "running":
            fields["waiting"] = tuple(info.pending)
        return RunResult(
            workflow_id=wid,
            status=info.status,
            history=history,
            calls=tuple(run.executor.calls),
            **fields,
        )

    def close(self) -> None:
        """Close every engine (and delete temporary files)."""
        for run in self._runs:
            run.close()
        self._runs.clear()
