"""The history model: frozen, keyword-only event classes.

Every event carries the envelope ``seq`` (1-based, contiguous per workflow),
``run_id`` and ``recorded_at`` (aware UTC). Events come in three families:

* **decisions** are what the interpreter decides: commands the workflow
  yielded (each with its pinned ``ordinal``, the ``source`` line that yielded
  it and a ``digest`` of its arguments), cancellations of pending commands, and
  the run's end (completed, failed, cancelled, continued-as-new). Replay
  matches the k-th decision the code makes against the k-th recorded one.
* **outcomes** arrive from the world (activity results, timer fires, signals,
  child results, cancel requests). Replay applies them in recorded order, which
  is what makes races, fail-fast and timeouts replay exactly.
* **markers** (started, stalled, resumed) frame runs and are not matched.

Payload values (``args``, ``result``, ``payload``) are held as plain JSON values;
they are decoded into annotated types where they are consumed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

#: Version of the history format written into every run's started event and fixture.
FORMAT_VERSION = 1
#: Version of the interpreter semantics (ordinal assignment, matching rules).
#: 2: a command whose final outcome was committed in the same batch as the outcome
#: that ends its scope is settled, never cancelled (runs started under 1 replay as 1).
SEMANTICS_VERSION = 2


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """A recorded exception: qualified type name, message and traceback text."""

    type: str
    message: str
    traceback: str = ""


@attrs.frozen(kw_only=True)
class Event:
    """Base of every history event (the envelope)."""

    FAMILY: ClassVar[str] = "marker"

    seq: int
    run_id: str
    recorded_at: datetime


@attrs.frozen(kw_only=True)
class Origin:
    """Where a reset or forked run was rebuilt from (`Engine.reset`, `Engine.fork`).

    The new run starts with copies of the origin run's events up to ``seq``;
    its deterministic draws (`random`, `uuid4`) and the default ids of the
    children its copied commands started are the origin's, so the copied
    prefix replays exactly and its recorded outcomes are reused.
    """

    workflow_id: str
    run_id: str
    seq: int
    #: The default child-id prefix of the origin run (``wf`` or ``wf/<run8>``).
    child_prefix: str
    #: The highest ordinal among the copied commands (0: none).
    last_ordinal: int = 0


# --- markers -----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkflowStarted(Event):
    """A run began: workflow type, input, lineage and the format it was written in."""

    name: str
    args: list[Any]
    workflow_id: str | None = None  # so a history replays under its own id, from anywhere
    parent_id: str | None = None
    parent_run_id: str | None = None
    parent_ordinal: int | None = None
    previous_run_id: str | None = None
    #: Where the code lives, ``module:qualname``, so tools import it without ``-m``.
    code: str | None = None
    #: Set on a run made by a reset or a fork: the run and seq it was rebuilt from.
    origin: Origin | None = None
    format_version: int = FORMAT_VERSION
    semantics_version: int = SEMANTICS_VERSION


@attrs.frozen(kw_only=True)
class WorkflowStalled(Event):
    """The engine could not drive the run (divergence, unknown type); it waits for a fix."""

    reason: str


@attrs.frozen(kw_only=True)
class WorkflowResumed(Event):
    """A stalled run replayed cleanly under fixed code and continues."""


# --- decisions ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CommandEvent(Event):
    """A command the workflow yielded, pinned to its ordinal."""

    FAMILY: ClassVar[str] = "decision"

    ordinal: int
    source: str = ""
    digest: str = ""


@attrs.frozen(kw_only=True)
class ActivityScheduled(CommandEvent):
    """`call`: the activity, its arguments and the retry policy in force."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any] = attrs.field(factory=dict)
    retry: dict[str, Any] = attrs.field(factory=dict)
    timeout: float | None = None


@attrs.frozen(kw_only=True)
class TimerStarted(CommandEvent):
    """`sleep`: a durable timer."""

    fire_at: datetime
    seconds: float


@attrs.frozen(kw_only=True)
class TimeoutStarted(CommandEvent):
    """`with_timeout`: the scope's deadline timer; its inner command follows."""

    fire_at: datetime
    seconds: float


@attrs.frozen(kw_only=True)
class SignalAwaited(CommandEvent):
    """`receive_signal`: the workflow waits for a signal of this name."""

    name: str


@attrs.frozen(kw_only=True)
class SignalSent(CommandEvent):
    """`send_signal`: a signal for another workflow."""

    name: str
    target: str
    payload: Any = None


@attrs.frozen(kw_only=True)
class ChildStarted(CommandEvent):
    """`start_child` / `await_child(workflow)`: a child workflow, recorded before it starts."""

    name: str
    child_id: str
    args: list[Any]
    awaited: bool = False
    #: What the child's parent-close policy is (`aion.ParentClose`), as recorded:
    #: the recorded one governs, so editing the code never changes an existing child.
    parent_close: str = "propagate_cancel"


@attrs.frozen(kw_only=True)
class ChildAwaited(CommandEvent):
    """`await_child(handle)`: the workflow waits for a child started earlier."""

    name: str
    child_id: str


@attrs.frozen(kw_only=True)
class GroupStarted(CommandEvent):
    """`collect_all` / `collect_race` / `collect_map`; members take the next ordinals."""

    name: str
    size: int
    concurrency: int | None = None


@attrs.frozen(kw_only=True)
class PatchRecorded(CommandEvent):
    """`patched`: this run reached the change under new code."""

    name: str


@attrs.frozen(kw_only=True)
class CommandCancelled(Event):
    """A pending command was cancelled (race loser, fail-fast, timeout, cancellation)."""

    FAMILY: ClassVar[str] = "decision"

    ordinal: int
    reason: str = ""


@attrs.frozen(kw_only=True)
class WorkflowCompleted(Event):
    """The run returned a value."""

    FAMILY: ClassVar[str] = "decision"

    result: Any = None


@attrs.frozen(kw_only=True)
class WorkflowFailed(Event):
    """The run raised."""

    FAMILY: ClassVar[str] = "decision"

    error: ErrorInfo


@attrs.frozen(kw_only=True)
class WorkflowCancelled(Event):
    """The run ended because it was cancelled and did not recover, or was terminated.

    ``terminated`` tells the two apart: a terminated run was ended on the spot
    (`Engine.terminate`), its generator closed with no `aion.Cancelled` thrown
    in, so no compensation ran. Both leave the status ``cancelled``: the
    contract's status list stays what it is, and every reader of a cancelled
    run reads a terminated one too.
    """

    FAMILY: ClassVar[str] = "decision"

    reason: str | None = None
    terminated: bool = False


@attrs.frozen(kw_only=True)
class WorkflowContinuedAsNew(Event):
    """The run ended by continuing as a new run of the same workflow id."""

    FAMILY: ClassVar[str] = "decision"

    args: list[Any]
    new_run_id: str


# --- outcomes -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ActivityCompleted(Event):
    """An activity attempt returned."""

    FAMILY: ClassVar[str] = "outcome"

    ordinal: int
    attempt: int
    result: Any = None


@attrs.frozen(kw_only=True)
class ActivityFailed(Event):
    """An activity attempt raised; ``retry_at`` is set when another attempt follows."""

    FAMILY: ClassVar[str] = "outcome"

    ordinal: int
    attempt: int
    error: ErrorInfo
    retry_at: datetime | None = None


@attrs.frozen(kw_only=True)
class TimerFired(Event):
    """A `sleep` or `with_timeout` timer became due."""

    FAMILY: ClassVar[str] = "outcome"

    ordinal: int


@attrs.frozen(kw_only=True)
class SignalReceived(Event):
    """A signal arrived (recorded on arrival; buffered until a receive consumes it)."""

    FAMILY: ClassVar[str] = "outcome"

    name: str
    payload: Any = None
    sender: str | None = None
    carried: bool = False  # re-recorded into a continue-as-new successor, unconsumed


@attrs.frozen(kw_only=True)
class SignalDelivered(Event):
    """A `send_signal` was recorded in its target's history."""

    FAMILY: ClassVar[str] = "outcome"

    ordinal: int


@attrs.frozen(kw_only=True)
class SignalDeliveryFailed(Event):
    """A `send_signal` target does not exist or is closed."""

    FAMILY: ClassVar[str] = "outcome"

    ordinal: int
    reason: str


@attrs.frozen(kw_only=True)
class ChildCompleted(Event):
    """An awaited child workflow returned."""

    FAMILY: ClassVar[str] = "outcome"

    ordinal: int
    child_id: str
    result: Any = None


@attrs.frozen(kw_only=True)
class ChildFailed(Event):
    """An awaited child workflow failed or was cancelled."""

    FAMILY: ClassVar[str] = "outcome"

    ordinal: int
    child_id: str
    status: str
    error: ErrorInfo


@attrs.frozen(kw_only=True)
class CancelRequested(Event):
    """Someone asked for the workflow to be cancelled (or, with ``terminate``, terminated).

    A terminate request is an outcome like a cancel request, so replay applies
    it at the same point of the run and the interpreter decides the same end
    (`WorkflowCancelled` with ``terminated``) from it.
    """

    FAMILY: ClassVar[str] = "outcome"

    reason: str | None = None
    terminate: bool = False


EVENT_TYPES: tuple[type[Event], ...] = (
    WorkflowStarted,
    WorkflowStalled,
    WorkflowResumed,
    ActivityScheduled,
    TimerStarted,
    TimeoutStarted,
    SignalAwaited,
    SignalSent,
    ChildStarted,
    ChildAwaited,
    GroupStarted,
    PatchRecorded,
    CommandCancelled,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowCancelled,
    WorkflowContinuedAsNew,
    ActivityCompleted,
    ActivityFailed,
    TimerFired,
    SignalReceived,
    SignalDelivered,
    SignalDeliveryFailed,
    ChildCompleted,
    ChildFailed,
    CancelRequested,
)

#: Event class by kind name (the class name is the kind stored in history).
EVENT_KINDS: dict[str, type[Event]] = {cls.__name__: cls for cls in EVENT_TYPES}

#: Run-ending decisions.
TERMINAL_TYPES: tuple[type[Event], ...] = (
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowCancelled,
    WorkflowContinuedAsNew,
)

#: Status after each lifecycle event kind (the status projection of a history).
STATUS_AFTER: dict[str, str] = {
    "WorkflowStarted": "running",
    "WorkflowResumed": "running",
    "WorkflowStalled": "stalled",
    "WorkflowCompleted": "completed",
    "WorkflowFailed": "failed",
    "WorkflowCancelled": "cancelled",
    "WorkflowContinuedAsNew": "continued_as_new",
}

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

#: The durable timer each arming event kind arms (a failure arms one only with a retry).
TIMER_KINDS: dict[str, str] = {
    "TimerStarted": "sleep",
    "TimeoutStarted": "timeout",
    "ActivityFailed": "retry",
}
#: The event kinds after which a command's timer is no longer pending (unless re-armed).
TIMER_ENDS: tuple[str, ...] = (
    "TimerFired",
    "CommandCancelled",
    "ActivityCompleted",
    "ActivityFailed",
)


def status_after(event: Event) -> str | None:
    """The workflow status ``event`` leaves behind, or None when it changes no status.

    The one status projection of a history: the stores' indexes, the
    PostgreSQL fold and the loaders all read status through it.
    """
    return STATUS_AFTER.get(type(event).__name__)


def armed_timer(event: Event) -> tuple[str, datetime] | None:
    """The durable timer ``event`` arms, as ``(kind, fire_at)``, or None.

    A sleep's `TimerStarted`, a deadline's `TimeoutStarted` and a failed
    attempt's retry wait (`ActivityFailed` with ``retry_at``); the engine's
    timer queue and the stores' pending-timer indexes both arm from this.
    """
    if isinstance(event, TimerStarted):
        return "sleep", event.fire_at
    if isinstance(event, TimeoutStarted):
        return "timeout", event.fire_at
    if isinstance(event, ActivityFailed) and event.retry_at is not None:
        return "retry", event.retry_at
    return None


def disarms_timer(event: Event) -> bool:
    """Whether ``event`` ends its command's pending timer (when `armed_timer` arms none)."""
    return type(event).__name__ in TIMER_ENDS


@attrs.frozen(kw_only=True)
class Decision:
    """An event decided but not yet recorded: its class and fields, without seq or time.

    The interpreter decides, the engine's effects add what a decision causes,
    and the runtime queues them; only the batch that commits them gives each
    its ``seq`` and ``recorded_at`` (and the run id, where a field leaves it out).
    """

    kind: type[Event]
    fields: dict[str, Any]

    def event(self, seq: int, recorded_at: datetime, run_id: str) -> Event:
        """The event this becomes when recorded at ``seq`` in run ``run_id``."""
        fields = self.fields
        if "run_id" in fields:
            return self.kind(seq=seq, recorded_at=recorded_at, **fields)
        return self.kind(seq=seq, recorded_at=recorded_at, run_id=run_id, **fields)


def kind_of(event: Event) -> str:
    """The kind name stored in history for an event."""
    return type(event).__name__
