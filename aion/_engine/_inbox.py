"""What other threads hand the step loop: requests with their tickets, and attempt reports.

Callers never touch the queue of the next batch: `Engine.start`/`signal`/`cancel`
put a request in the inbox, executors put an attempt's report there, and the
step loop drains it under the lock. A request carries a `Ticket` its caller
waits on until the batch holding it is committed (or refused).
"""

from __future__ import annotations

import threading
from typing import Any

import attrs

from aion._engine._activities import Settled
from aion._engine._timers import CommandKey
from aion._events import Decision


class Ticket:
    """A caller waiting for its request to be committed.

    ``queued`` is the decision the request put in the queue, so a request whose
    caller is told it failed can be taken back out (never recorded later).

    Marking it ``done`` opens a gate the caller can wait on without the engine
    lock: while one caller commits a batch, the others whose requests it holds
    must not queue for the lock only to learn they are finished (that convoy
    held starts from 8 threads to batches of ~2 and 900 starts/s).
    """

    __slots__ = ("_done", "_gate", "error", "queued")

    def __init__(self) -> None:
        self._done = False
        self._gate = threading.Lock()
        self._gate.acquire()
        self.error: BaseException | None = None
        self.queued: tuple[str, Decision] | None = None

    @property
    def done(self) -> bool:
        """Whether the request was committed or refused (``error`` says which)."""
        return self._done

    @done.setter
    def done(self, value: bool) -> None:
        if value and not self._done:
            self._done = True
            self._gate.release()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``done``; return whether it is."""
        if self._gate.acquire(timeout=timeout):
            self._gate.release()
        return self._done


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
