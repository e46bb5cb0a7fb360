"""A workflow's final outcome as its caller sees it: the result, or the error to raise.

`Engine.run_until_complete`, `WorkflowHandle.result` and `aion.Client.result`
(in a process that runs no worker) answer from history alone (the recorded JSON
value, the recorded error), so the answer is the same before and after a
restart, and in every process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aion._errors import WorkflowCancelledError, WorkflowFailedError, WorkflowStalledError
from aion._events import (
    TERMINAL_STATUSES,
    Event,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowFailed,
)
from aion.store import WorkflowInfo


def final_outcome(
    info: WorkflowInfo, last: Callable[[], Event], unrecorded: str | None
) -> Callable[[], Any] | None:
    """A thunk returning/raising the workflow's final outcome, or None while it is open.

    Args:
        info: The workflow's visibility record.
        last: Reads its last recorded event (asked only once it has ended).
        unrecorded: Why the store refused its events, when it did (a stall in memory).
    """
    workflow_id = info.workflow_id
    if info.status == "stalled" or unrecorded is not None:
        reason = info.stalled_reason or unrecorded

        def stalled() -> Any:
            msg = f"workflow {workflow_id!r} is stalled: {reason}"
            raise WorkflowStalledError(msg)

        return stalled
    if info.status not in TERMINAL_STATUSES:
        return None
    end = last()
    if isinstance(end, WorkflowCompleted):
        value = end.result
        return lambda: value
    if isinstance(end, WorkflowFailed):
        err = end.error

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
    reason_text = end.reason if isinstance(end, WorkflowCancelled) else None
    how = "terminated" if isinstance(end, WorkflowCancelled) and end.terminated else "cancelled"

    def cancelled() -> Any:
        msg = f"workflow {workflow_id!r} was {how}" + (f": {reason_text}" if reason_text else ".")
        raise WorkflowCancelledError(msg)

    return cancelled
