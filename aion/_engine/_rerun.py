"""Reset, fork, retry and resume inside a running engine.

Each records what `aion.lineage` builds (or, for resume, nothing new) with
one append, between two steps under the runtime's lock, then takes the
workflow back into memory the way recovery does (`adopt`): the new run is
replayed over its copied prefix, so recorded outcomes are reused, and what
it left pending (activities, timers, children) is acted on again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aion import lineage
from aion._definitions import activity_definition, workflow_definition
from aion._engine._recovery import adopt
from aion._engine._runtime import Runtime
from aion._errors import WorkflowAlreadyExists, WorkflowClosed, WorkflowNotFound
from aion._events import Event
from aion.store import Append, WorkflowInfo


def _history(rt: Runtime, workflow_id: str) -> list[Event]:
    history = rt.store.history(workflow_id)
    if not history:
        msg = f"no workflow with id {workflow_id!r} in this store."
        raise WorkflowNotFound(msg)
    return history


def _take_in(rt: Runtime, workflow_id: str) -> None:
    info = rt.store.info(workflow_id)
    assert info is not None  # just appended
    adopt(rt, [info])
    rt.step()  # what the replay decided (a resumption, re-dispatches) is durable now
    rt.cond.notify_all()


def reset(rt: Runtime, workflow_id: str, seq: int, reason: str | None = None) -> str:
    """Start a new run of ``workflow_id`` from its history up to ``seq``; returns its run id."""
    with rt.cond:
        history = _history(rt, workflow_id)
        return _rebuild(rt, workflow_id, history, seq, reason or f"reset to seq {seq}", None)


def retry(rt: Runtime, workflow_id: str) -> str:
    """Start a new run of a failed workflow from before its failure; returns its run id."""
    with rt.cond:
        history = _history(rt, workflow_id)
        seq, ordinal = lineage.retry_point(history)
        return _rebuild(rt, workflow_id, history, seq, "retry", ordinal)


def _rebuild(
    rt: Runtime,
    workflow_id: str,
    history: list[Event],
    seq: int,
    reason: str,
    skip_failures_of: int | None,
) -> str:
    written = lineage.reset_events(workflow_id, history, seq, reason, skip_failures_of)
    rt.release(workflow_id)  # the old run's instance, attempts and timers go
    expected = history[-1].seq
    rt.store.append([Append(workflow_id=workflow_id, expected_seq=expected, events=written)])
    _take_in(rt, workflow_id)
    return written[-1].run_id  # the new run's (an end, if any, is the old run's)


def fork(rt: Runtime, workflow_id: str, seq: int, new_id: str) -> str:
    """Start workflow ``new_id`` from ``workflow_id``'s history up to ``seq``."""
    with rt.cond:
        history = _history(rt, workflow_id)
        existing = rt.store.info(new_id)
        if existing is not None or new_id in rt.state.queue:
            msg = f"workflow {new_id!r} already exists."
            raise WorkflowAlreadyExists(msg)
        events = lineage.rebuilt_run(workflow_id, history, seq, new_workflow_id=new_id)
        rt.store.append([Append(workflow_id=new_id, expected_seq=0, events=events)])
        _take_in(rt, new_id)
        return new_id


def resume(
    rt: Runtime, workflow_id: str, workflows: Iterable[Any] = (), activities: Iterable[Any] = ()
) -> str:
    """Replay a stalled workflow again under the code registered now; returns its status.

    ``workflows`` and ``activities`` replace the registered ones of the same
    names first (a worker hands in the functions of the modules it reloaded),
    so fixed code is picked up without restarting the engine.
    """
    with rt.cond:
        registry = rt.state.registry
        for fn in workflows:
            d = workflow_definition(fn)
            registry.workflows[d.name] = d
        for fn in activities:
            a = activity_definition(fn)
            registry.activities[a.name] = a
        info: WorkflowInfo | None = rt.store.info(workflow_id)
        if info is None:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        if info.status != "stalled":
            if info.status in ("completed", "failed", "cancelled"):
                msg = f"workflow {workflow_id!r} is {info.status}: only a stalled one resumes."
                raise WorkflowClosed(msg)
            return info.status
        rt.release(workflow_id)
        _take_in(rt, workflow_id)
        after = rt.store.info(workflow_id)
        return after.status if after is not None else info.status
