"""A closed workflow's outcome, from its visibility record and last event.

`aion.Client.result` returns a completed workflow's recorded JSON result and
raises the error a failed, cancelled or stalled one ended with, exactly as
`WorkflowHandle.result` does in the worker's own process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aion._errors import (
    WorkflowCancelledError,
    WorkflowFailedError,
    WorkflowStalledError,
)
from aion._events import (
    TERMINAL_STATUSES,
    Event,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowFailed,
)
from aion.store import WorkflowInfo


def outcome(info: WorkflowInfo, last_event: Callable[[], Event | None]) -> Callable[[], Any] | None:
    """A thunk returning or raising the workflow's outcome; None while it is open."""
    workflow_id = info.workflow_id
    if info.status == "stalled":
        reason = info.stalled_reason

        def stalled() -> Any:
            msg = f"workflow {workflow_id!r} is stalled: {reason}"
            raise WorkflowStalledError(msg)

        return stalled
    if info.status not in TERMINAL_STATUSES:
        return None
    last = last_event()
    if isinstance(last, WorkflowCompleted):
        value = last.result
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
        raise WorkflowCancelledError(
            f"workflow {workflow_id!r} was cancelled" + (f": {reason_text}" if reason_text else ".")
        )

    return cancelled
