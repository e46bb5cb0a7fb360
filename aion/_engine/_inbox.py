"""What other threads hand the step loop: requests with their tickets, and attempt reports.

Callers never touch the queue of the next batch: `Engine.start`/`signal`/`cancel`
put a request in the inbox, executors put an attempt's report there, and the
step loop drains it under the lock. A request carries a `Ticket` its caller
waits on until the batch holding it is committed (or refused).
"""

from __future__ import annotations

from typing import Any

import attrs

from aion._engine._activities import Settled
from aion._engine._timers import CommandKey
from aion._events import Decision


class Ticket:
    """A caller waiting for its request to be committed.

    ``queued`` is the decision the request put in the queue, so a request whose
    caller is told it failed can be taken back out (never recorded later).
    """

    __slots__ = ("done", "error", "queued")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None
        self.queued: tuple[str, Decision] | None = None


@attrs.frozen(kw_only=True)
class StartRequest:
    """`Engine.start`: record a new workflow's ``WorkflowStarted`` with ``fields``.

    Starts go through the inbox like signals, so starts from many threads at
    once share one commit (each caller still returns once its start is durable).
    """

    workflow_id: str
    fields: dict[str, Any] = attrs.field(eq=False)
    ticket: Ticket = attrs.field(eq=False)


@attrs.frozen(kw_only=True)
class SignalRequest:
    """`Engine.signal`: record ``payload`` (already JSON) as signal ``name``."""

    workflow_id: str
    name: str
    payload: Any
    ticket: Ticket = attrs.field(eq=False)


@attrs.frozen(kw_only=True)
class CancelRequest:
    """`Engine.cancel` / `Engine.terminate`: record a cancel (or terminate) request."""

    workflow_id: str
    reason: str | None
    terminate: bool = False
    ticket: Ticket = attrs.field(eq=False)


@attrs.frozen(kw_only=True)
class AttemptReport:
    """An executor's report of one activity attempt, normalised."""

    key: CommandKey
    attempt: int
    outcome: Settled


Request = StartRequest | SignalRequest | CancelRequest
InboxItem = StartRequest | SignalRequest | CancelRequest | AttemptReport
