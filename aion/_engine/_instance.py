"""A workflow in memory (`Instance`, its `ActivitySpec` calls) and how it is revived.

A workflow is revived by replaying its current run through a fresh
interpreter; what the replay leaves pending (activities without a final
outcome, retry waits) is handed back so the engine can act on it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from aion import _codec
from aion._definitions import Registry, RetryPolicy
from aion._errors import InternalError
from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildStarted,
    Decision,
    Event,
    WorkflowResumed,
    WorkflowStalled,
    WorkflowStarted,
)
from aion._interpreter import Interpreter
from aion.store import WorkflowInfo

#: Where revival queues what it must record (a stall, a resumption).
Enqueue = Callable[[str, Decision], object]


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
        policy = recorded_policy(event.retry) if event.retry else _DEFAULT_POLICY
        return cls(event.name, list(event.args), dict(event.kwargs), policy, event.timeout)


_DEFAULT_POLICY: Final = RetryPolicy()
_BY_ID: dict[int, tuple[Any, RetryPolicy]] = {}
_BY_TEXT: dict[str, RetryPolicy] = {}


def recorded_policy(retry: Any) -> RetryPolicy:
    """The `RetryPolicy` a recorded call's ``retry`` JSON describes, structured once.

    Every dispatched call needs its policy, and cattrs rebuilding the same
    frozen policy per call was a seventh of the live worker's time. Events made
    live share one JSON dict per policy (`policy_json`), so the identity cache
    answers them; JSON read back from a store is keyed by its text.
    """
    entry = _BY_ID.get(id(retry))
    if entry is not None and entry[0] is retry:
        return entry[1]
    text = _codec.dumps(retry)
    policy = _BY_TEXT.get(text)
    if policy is None:
        policy = _codec.from_jsonable(retry, RetryPolicy, "recorded retry policy")
        if len(_BY_TEXT) > 1024:  # policies made per call: do not grow without bound
            _BY_TEXT.clear()
        _BY_TEXT[text] = policy
    if len(_BY_ID) > 1024:
        _BY_ID.clear()
    _BY_ID[id(retry)] = (retry, policy)  # the dict is kept alive so its id is not reused
    return policy


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
    registry: Registry,
    enqueue: Enqueue,
    workflow_id: str,
    history: Sequence[Event],
    previous: WorkflowInfo | None = None,
) -> Instance:
    """Replay the current run of ``history`` and return the live instance.

    ``previous`` is the workflow's recorded visibility; it decides whether a
    stall must be recorded (not twice for the same reason) or a resumption
    noted (a stalled run that replays cleanly under fixed code); either is
    handed to ``enqueue``.

    Raises:
        aion.InternalError: ``history`` holds no start of a run (the runtime
            revives only workflows whose start is recorded).
    """
    starts = [i for i, e in enumerate(history) if isinstance(e, WorkflowStarted)]
    if not starts:
        msg = f"workflow {workflow_id!r} was revived from a history with no WorkflowStarted."
        raise InternalError(msg)
    segment = history[starts[-1] :]
    started = segment[0]
    assert isinstance(started, WorkflowStarted)  # found just above: narrows the type
    inst = Instance(workflow_id, started)
    was_stalled = previous is not None and previous.status == "stalled"
    definition = registry.workflows.get(started.name)
    if definition is None:
        known = ", ".join(sorted(registry.workflows)) or "none"
        reason = (
            f"workflow type {started.name!r} is not registered with this engine "
            f"(registered: {known})."
        )
        inst.status = "stalled"
        if not (was_stalled and previous is not None and previous.stalled_reason == reason):
            enqueue(workflow_id, Decision(kind=WorkflowStalled, fields={"reason": reason}))
        return inst
    interp = Interpreter(
        workflow_id=workflow_id,
        started=started,
        definition=definition,
        registry=registry,
        recorded=[e for e in segment if e.FAMILY == "decision"],
        history=segment,
    )
    interp.replay_from(segment[1:])
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
        enqueue(workflow_id, Decision(kind=WorkflowResumed, fields={}))
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
