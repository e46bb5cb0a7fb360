"""What the engine tells the stdlib ``aion`` logger: one record per committed event that matters.

Records are made after the commit that recorded the event, from the event
itself, and nowhere else: replay and recovery rebuild state from history
without committing it again, so a restarted engine never logs a workflow's
start, failure or retry twice. Recovery itself logs one summary line.

Levels: INFO for a workflow's life (started, completed, cancelled, continued
as new, resumed), WARNING for what an operator should look at (a failed
workflow, a stall, an activity attempt that failed). Every record carries the
workflow id (``extra={"workflow_id": ...}``) for structured handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from aion._events import (
    ActivityFailed,
    Event,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowResumed,
    WorkflowStalled,
    WorkflowStarted,
)

LOG: Final = logging.getLogger("aion")
# A library's records go where the application sends them, and nowhere by default:
# without a handler of its own, Python would print every WARNING to stderr.
LOG.addHandler(logging.NullHandler())
INFO, WARNING = logging.INFO, logging.WARNING


def _started(workflow_id: str, event: Event) -> None:
    assert isinstance(event, WorkflowStarted)
    kind = "continued" if event.previous_run_id else "started"
    LOG.info(
        "workflow %s (%s) %s, run %s",
        workflow_id,
        event.name,
        kind,
        event.run_id,
        extra={"workflow_id": workflow_id},
    )


def _completed(workflow_id: str, event: Event) -> None:
    LOG.info("workflow %s completed", workflow_id, extra={"workflow_id": workflow_id})


def _failed(workflow_id: str, event: Event) -> None:
    assert isinstance(event, WorkflowFailed)
    LOG.warning(
        "workflow %s failed: %s: %s",
        workflow_id,
        event.error.type,
        event.error.message,
        extra={"workflow_id": workflow_id},
    )


def _cancelled(workflow_id: str, event: Event) -> None:
    LOG.info("workflow %s cancelled", workflow_id, extra={"workflow_id": workflow_id})


def _continued(workflow_id: str, event: Event) -> None:
    LOG.info(
        "workflow %s continues as new (run %s ended)",
        workflow_id,
        event.run_id,
        extra={"workflow_id": workflow_id},
    )


def _stalled(workflow_id: str, event: Event) -> None:
    assert isinstance(event, WorkflowStalled)
    LOG.warning(
        "workflow %s stalled: %s", workflow_id, event.reason, extra={"workflow_id": workflow_id}
    )


def _resumed(workflow_id: str, event: Event) -> None:
    LOG.info("workflow %s resumed", workflow_id, extra={"workflow_id": workflow_id})


def _attempt_failed(workflow_id: str, event: Event) -> None:
    assert isinstance(event, ActivityFailed)
    then = (
        f"retry at {event.retry_at.isoformat()}" if event.retry_at is not None else "no retry left"
    )
    LOG.warning(
        "workflow %s: activity attempt %d (ordinal %d) failed: %s: %s; %s",
        workflow_id,
        event.attempt,
        event.ordinal,
        event.error.type,
        event.error.message,
        then,
        extra={"workflow_id": workflow_id},
    )


_HANDLERS: Final[dict[type[Event], tuple[int, Callable[[str, Event], None]]]] = {
    WorkflowStarted: (INFO, _started),
    WorkflowCompleted: (INFO, _completed),
    WorkflowFailed: (WARNING, _failed),
    WorkflowCancelled: (INFO, _cancelled),
    WorkflowContinuedAsNew: (INFO, _continued),
    WorkflowStalled: (WARNING, _stalled),
    WorkflowResumed: (INFO, _resumed),
    ActivityFailed: (WARNING, _attempt_failed),
}


#: The event classes `committed` logs (the step skips the call for the others).
LOGGED: Final = frozenset(_HANDLERS)


def committed(workflow_id: str, event: Event) -> None:
    """Log ``event`` if it is one an operator wants to see; called once, after its commit."""
    entry = _HANDLERS.get(type(event))
    if entry is not None and LOG.isEnabledFor(entry[0]):
        entry[1](workflow_id, event)


def recovered(workflows: int, seconds: float) -> None:
    """The one line recovery logs: how many unfinished workflows it took back, how fast."""
    if workflows:
        LOG.info("recovered %d unfinished workflow(s) in %.2fs", workflows, seconds)
