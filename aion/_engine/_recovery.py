"""Rebuilding a workflow's live state from its history (at open, and for new runs).

A workflow is revived by replaying its current run through a fresh
interpreter; what the replay leaves pending (activities without a final
outcome, retry waits) is handed back so the engine can act on it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aion import _codec
from aion._definitions import RetryPolicy
from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildStarted,
    Event,
    WorkflowResumed,
    WorkflowStalled,
    WorkflowStarted,
)
from aion._interpreter import Interpreter
from aion.store import WorkflowInfo

if TYPE_CHECKING:
    from aion._engine._runtime import Runtime


class ActivitySpec:
    """A recorded activity call: what to run, under which policy, and how far it got."""

    __slots__ = ("args", "attempts", "kwargs", "name", "retry", "timeout", "waiting_retry")

    def __init__(
        self,
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
        retry: RetryPolicy,
        timeout: float | None,
    ) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.retry = retry
        self.timeout = timeout
        self.attempts = 0
        self.waiting_retry = False

    @classmethod
    def from_event(cls, event: ActivityScheduled) -> ActivitySpec:
        """The spec recorded in an `ActivityScheduled` event (its policy, not today's)."""
        policy = (
            _codec.from_jsonable(event.retry, RetryPolicy, "recorded retry policy")
            if event.retry
            else RetryPolicy()
        )
        return cls(event.name, list(event.args), dict(event.kwargs), policy, event.timeout)


class Instance:
    """A workflow the engine holds in memory: its current run and interpreter."""

    __slots__ = (
        "activities",
        "children",
        "interp",
        "name",
        "parent_id",
        "run_id",
        "status",
        "workflow_id",
    )

    def __init__(self, workflow_id: str, started: WorkflowStarted) -> None:
        self.workflow_id = workflow_id
        self.run_id = started.run_id
        self.name = started.name
        self.parent_id = started.parent_id
        self.interp: Interpreter | None = None
        self.status = "running"
        self.children: list[str] = []
        self.activities: dict[tuple[str, str, int], ActivitySpec] = {}


def revive(
    engine: Runtime,
    workflow_id: str,
    history: Sequence[Event],
    previous: WorkflowInfo | None = None,
) -> Instance:
    """Replay the current run of ``history`` and return the live instance.

    ``previous`` is the workflow's recorded visibility; it decides whether a
    stall must be recorded (not twice for the same reason) or a resumption
    noted (a stalled run that replays cleanly under fixed code).
    """
    start = max(i for i, e in enumerate(history) if isinstance(e, WorkflowStarted))
    segment = history[start:]
    started = segment[0]
    assert isinstance(started, WorkflowStarted)
    inst = Instance(workflow_id, started)
    was_stalled = previous is not None and previous.status == "stalled"
    definition = engine.registry.workflows.get(started.name)
    if definition is None:
        known = ", ".join(sorted(engine.registry.workflows)) or "none"
        reason = (
            f"workflow type {started.name!r} is not registered with this engine "
            f"(registered: {known})."
        )
        inst.status = "stalled"
        if not (was_stalled and previous is not None and previous.stalled_reason == reason):
            engine._enqueue(workflow_id, WorkflowStalled, {"reason": reason})
        return inst
    interp = Interpreter(
        workflow_id=workflow_id,
        started=started,
        definition=definition,
        registry=engine.registry,
        recorded=[e for e in segment if e.FAMILY == "decision"],
        history=segment,
    )
    interp.start()
    for event in segment[1:]:
        interp.feed(event)
    if not interp.replaying:
        # Every recorded decision is matched: the events are only needed again to
        # report a divergence during replay, so a resident workflow does not keep
        # its whole history (about 2 KB for even a 4-event one).
        interp.release_history()
    inst.interp = interp
    inst.children = [e.child_id for e in segment if isinstance(e, ChildStarted)]
    if interp.status == "stalled":
        if was_stalled and previous is not None and previous.stalled_reason == interp.stall_reason:
            inst.status = "stalled"
        return inst
    if was_stalled:
        engine._enqueue(workflow_id, WorkflowResumed, {})
    pending = set(interp.pending_activities())
    if pending:
        specs: dict[int, ActivitySpec] = {}
        for event in segment:
            if isinstance(event, ActivityScheduled) and event.ordinal in pending:
                specs[event.ordinal] = ActivitySpec.from_event(event)
            elif isinstance(event, ActivityFailed) and event.ordinal in specs:
                spec = specs[event.ordinal]
                spec.attempts = event.attempt
                spec.waiting_retry = event.retry_at is not None
            elif isinstance(event, ActivityCompleted) and event.ordinal in specs:
                specs[event.ordinal].waiting_retry = False
        for ordinal, spec in specs.items():
            inst.activities[(workflow_id, started.run_id, ordinal)] = spec
    return inst
