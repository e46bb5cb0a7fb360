"""What the engine hands back: `WorkflowHandle` and `WorkflowDescription`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import attrs

from aion._describe import pending_commands
from aion._events import Event, WorkflowCompleted, WorkflowFailed
from aion.store import TimerInfo, WorkflowInfo

#: How a handle waits: ``wait(workflow_id, timeout)`` returns the result or raises.
Wait = Callable[[str, float | None], Any]


@attrs.frozen(kw_only=True)
class WorkflowDescription:
    """A workflow's state as `Engine.describe` reports it.

    Attributes:
        workflow_id: The id.
        run_id: The current run.
        workflow_type: The registered workflow name.
        status: ``running``, ``completed``, ``failed``, ``cancelled``, ``stalled``
            or ``continued_as_new``.
        stalled_reason: Why the workflow is stalled (divergence report, missing code).
        started_at: When the workflow started.
        closed_at: When it reached a terminal status.
        last_seq: The head of its history.
        runs: How many runs it has had (continue-as-new).
        parent_id: The parent, for child workflows.
        pending: The commands the current run waits on, as readable lines.
        timers: Its pending durable timers.
        result: The result, when completed.
        error: ``type: message`` of the failure, when failed.
    """

    workflow_id: str
    run_id: str
    workflow_type: str
    status: str
    stalled_reason: str | None
    started_at: datetime
    closed_at: datetime | None
    last_seq: int
    runs: int
    parent_id: str | None
    pending: tuple[str, ...]
    timers: tuple[TimerInfo, ...]
    result: Any = None
    error: str | None = None


def describe_workflow(
    info: WorkflowInfo,
    history: Sequence[Event],
    timers: tuple[TimerInfo, ...],
) -> WorkflowDescription:
    """A description from a visibility record and the workflow's history.

    The engine (resident and evicted workflows alike) and the CLI (no worker
    running) both describe workflows through this, so the pending commands
    are derived one way everywhere (`pending_commands`, from the events).
    ``history`` may end with events the engine has queued but not yet
    committed, so a description made between two steps is current.
    """
    pending: tuple[str, ...] = ()
    if info.status in ("running", "stalled"):
        pending = tuple(pending_commands(history))
    last = history[-1] if history else None
    result: Any = None
    error: str | None = None
    if isinstance(last, WorkflowCompleted):
        result = last.result
    elif isinstance(last, WorkflowFailed):
        error = f"{last.error.type}: {last.error.message}"
    return WorkflowDescription(
        workflow_id=info.workflow_id,
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


class WorkflowHandle:
    """A started workflow: its id, and a way to wait for its result.

    Args:
        workflow_id: The workflow's id.
        wait: How to wait for it (the engine's; a handle holds nothing else of it).
    """

    def __init__(self, workflow_id: str, wait: Wait) -> None:
        self._wait = wait
        self.id = workflow_id

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the workflow to finish and return its result (or raise its error).

        If no thread is serving the engine, this call drives it itself (as
        `Engine.run_until_complete` does).

        Raises:
            aion.WorkflowFailedError: The workflow failed.
            aion.WorkflowCancelledError: The workflow was cancelled.
            aion.WorkflowStalledError: The workflow is stalled.
            TimeoutError: ``timeout`` seconds passed first.
        """
        return self._wait(self.id, timeout)

    def __repr__(self) -> str:
        return f"WorkflowHandle({self.id!r})"
