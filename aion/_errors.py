"""The exception hierarchy: every error aion raises derives from `AionError`.

Leaves also subclass the standard-library type a caller would naturally catch
(`TimeoutError`, `LookupError`, `TypeError`, ...), so code that does not know
aion still handles them sensibly. Messages are whole sentences that say what
went wrong and where, because they end up in logs and in the CLI verbatim.
"""

from __future__ import annotations

from typing import Any


class AionError(Exception):
    """Root of every error raised by aion."""


class ConfigurationError(AionError, ValueError):
    """A decorator, engine or command was given options that cannot work."""


class NotRegisteredError(AionError, LookupError):
    """A workflow or activity name is not registered with the engine or replayer."""


class WorkflowNotFound(AionError, LookupError):
    """No workflow with the given id exists in the store."""


class WorkflowAlreadyExists(AionError, ValueError):
    """A workflow with the given id already exists and is still open."""


class WorkflowClosed(AionError, RuntimeError):
    """The workflow has already finished and cannot accept the request."""


class WorkflowBlocked(AionError, RuntimeError):
    """`run_until_complete` found the workflow unable to progress (it waits for a signal)."""


class WorkflowFailedError(AionError, RuntimeError):
    """The workflow ended failed; raised by `WorkflowHandle.result()`.

    Attributes:
        workflow_id: The failed workflow.
        error_type: The qualified name of the exception the workflow raised.
        error_message: That exception's message.
        traceback: The traceback text recorded in history.
    """

    def __init__(
        self, message: str, *, workflow_id: str, error_type: str, error_message: str, traceback: str
    ) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.error_type = error_type
        self.error_message = error_message
        self.traceback = traceback


class WorkflowCancelledError(AionError, RuntimeError):
    """The workflow ended cancelled; raised by `WorkflowHandle.result()`."""


class WorkflowStalledError(AionError, RuntimeError):
    """The workflow is stalled (diverged or unregistered code); raised by `result()`."""


class CodecError(AionError, TypeError):
    """A value could not be encoded to JSON, or a payload could not be decoded."""


class HistoryError(AionError, ValueError):
    """A recorded history is malformed: bad shape, unknown format or event kind."""


class StoreError(AionError):
    """The history store failed: it could not be opened, read or written."""


class StoreCorruptedError(StoreError):
    """The database file is damaged or is not a DuckDB file at all."""


class ForeignStoreError(StoreError):
    """The database file is a valid DuckDB file, but not an aion store (or a newer one)."""


class StoreLockedError(StoreError):
    """Another process holds the database file open."""


class StoreConflictError(StoreError):
    """A write transaction was rolled back by a conflict; running it again may succeed.

    DuckDB reports these as ``TransactionException``; nothing of the failed
    transaction was written, so the engine retries the same batch.
    """


class StoreInvalidatedError(StoreError):
    """The database hit a fatal error (e.g. disk full while checkpointing) and must be reopened.

    DuckDB reports these as ``FatalException`` and refuses every later query on
    that instance. Whether the write in progress was committed is unknown until
    the file is reopened, so the engine reopens it and compares the store's
    heads with the batch before deciding to retry.
    """


class SequenceConflict(StoreError):
    """An append expected a different last seq: two writers raced on one workflow.

    Attributes:
        workflow_id: The workflow whose head moved.
        expected: The last seq the writer expected.
        found: The last seq the store holds.
    """

    def __init__(self, workflow_id: str, expected: int, found: int) -> None:
        msg = (
            f"append to workflow {workflow_id!r} expected last seq {expected}, "
            f"but the store holds {found}: another writer appended first."
        )
        super().__init__(msg)
        self.workflow_id = workflow_id
        self.expected = expected
        self.found = found


class WorkflowYieldError(AionError, TypeError):
    """The workflow yielded something that is not an aion command."""


class WorkflowArgumentError(AionError, TypeError):
    """A workflow was started with arguments its signature does not accept.

    Raised by `Engine.start` (and ``aion start``) before anything is recorded,
    so a bad start never leaves a workflow behind that cannot run.
    """


class NondeterminismError(AionError):
    """The workflow code no longer produces the commands its history recorded.

    Attributes:
        workflow_id: The workflow that diverged.
        seq: The seq of the recorded event where replay diverged.
        recorded: A description of what history recorded there (kind, name, args, source).
        current: A description of what the code does now (kind, name, args, source).
        context: The events around `seq`, as one-line summaries.
    """

    def __init__(
        self,
        message: str,
        *,
        workflow_id: str,
        seq: int,
        recorded: dict[str, Any],
        current: dict[str, Any],
        context: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.seq = seq
        self.recorded = recorded
        self.current = current
        self.context = context


class ActivityError(AionError):
    """Thrown into a workflow when an activity failed its last attempt.

    Attributes:
        activity: The activity's registered name.
        cause_type: Qualified name of the exception the activity raised.
        message: That exception's message.
        attempts: How many attempts ran.
    """

    def __init__(self, activity: str, cause_type: str, message: str, attempts: int) -> None:
        text = f"activity {activity!r} failed after {attempts} attempt(s): {cause_type}: {message}"
        super().__init__(text)
        self.activity = activity
        self.cause_type = cause_type
        self.message = message
        self.attempts = attempts


class NotPicklableError(AionError, TypeError):
    """An activity cannot be sent to another process (`FuturesExecutor` on a process pool).

    Recorded as the attempt's failure, and not retried: the activity must be a
    module-level function its worker processes can import.
    """


class ActivityTimeout(AionError, TimeoutError):
    """An activity attempt ran past its timeout (recorded as a retryable failure)."""


class Timeout(AionError, TimeoutError):
    """A `with_timeout` deadline fired before the inner command settled.

    Attributes:
        ordinal: The ordinal of the `with_timeout` scope that fired, so nested
            scopes can be told apart.
        seconds: The scope's duration in seconds.
    """

    def __init__(self, ordinal: int, seconds: float) -> None:
        super().__init__(f"deadline of {seconds:g}s (with_timeout at ordinal {ordinal}) expired")
        self.ordinal = ordinal
        self.seconds = seconds


class Cancelled(AionError):
    """Thrown into a workflow generator when the workflow is cancelled.

    A workflow may catch it to compensate (yield more commands) and then return
    or re-raise; if it escapes, the workflow ends cancelled.
    """

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "workflow cancelled")
        self.reason = reason


class ChildWorkflowError(AionError):
    """Thrown into a parent when an awaited child workflow failed or was cancelled.

    Attributes:
        child_id: The child workflow's id.
        status: ``"failed"`` or ``"cancelled"``.
        error_type: Qualified name of the child's exception (failed children).
        error_message: The child's error message.
    """

    def __init__(self, child_id: str, status: str, error_type: str, error_message: str) -> None:
        super().__init__(f"child workflow {child_id!r} {status}: {error_type}: {error_message}")
        self.child_id = child_id
        self.status = status
        self.error_type = error_type
        self.error_message = error_message


class SignalDeliveryError(AionError, LookupError):
    """Thrown into a workflow whose `send_signal` target does not exist or is closed."""


class QueryError(AionError):
    """A query could not be answered: unknown name, or the handler raised."""


class InternalError(AionError):
    """An invariant inside aion broke: this is a bug in aion, please report it."""


class FencedError(StoreError):
    """An append was refused because the writer no longer owns the workflow.

    Raised by the PostgreSQL store when a worker session's claim on a workflow
    was taken over (its lease expired and another session claimed it), when its
    own lease has expired, or when an unowned writer touches a workflow that a
    live worker session owns. Nothing of the batch was written.

    Attributes:
        workflow_id: The workflow the writer does not own.
    """

    def __init__(self, message: str, *, workflow_id: str) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class LeaseExpired(StoreError):
    """A worker session's lease ran out on the database clock: the session is over.

    Its workflows may already be owned by another session; the worker must stop
    writing and register a new session.
    """
