"""The commands a workflow yields: frozen, keyword-only data (made by `aion._vocabulary`).

A workflow generator yields these; the interpreter gives each one an ordinal,
records it, and sends back its value. Commands carry data only: all behaviour
(matching, completion rules, cancellation) lives in the interpreter. Activity
and workflow references are stored by registered name so a command is plain
data that can be described in a divergence report.

Typing: every command is a ``Command[T]`` where ``T`` is the type of the value
the workflow gets back. The concrete classes stay plain (non-generic) data;
the factories (`aion._vocabulary`) carry the precise value type (``call(charge, ...)`` is a
``Command[<charge's return type>]``), so the generics cost nothing at run time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any, Final, Generic, NoReturn, ParamSpec, TypeAlias, TypeVar
from uuid import UUID

import attrs

from aion._definitions import (
    ActivityDefinition,
    RetryPolicy,
)

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
# Covariant: a command producing an int is a command producing an ``int | None``,
# which lets ``collect_all([call(...), sleep(1)])`` mix members of different types.
T_co = TypeVar("T_co", covariant=True)


@attrs.frozen(kw_only=True)
class Command(Generic[T_co]):
    """Base of every command; ``T_co`` is the type of the value sent back."""


WorkflowGen: TypeAlias = Generator[Command[Any], Any, R]
"""The return annotation of a workflow returning ``R``: ``def order() -> aion.WorkflowGen[str]``.

The send type is ``Any`` because a generator has one send type for all its
yields, so mypy cannot tie the value of ``x = yield cmd`` to ``cmd``'s type.
What it does check: every yielded object is a command, every command's
arguments (``call(charge, ...)`` against ``charge``'s signature), and the
returned value against ``R``.
"""


@attrs.frozen(kw_only=True)
class ChildHandle(Generic[R]):
    """A started child workflow, returned by `start_child` and accepted by `await_child`.

    ``R`` is the child's result type (for type checkers only; nothing at run time).

    Attributes:
        workflow_id: The child's workflow id.
        workflow: The child's registered workflow name.
    """

    workflow_id: str
    workflow: str


class Call(Command[Any]):
    """Run an activity and send back its result.

    The one command a long workflow yields thousands of times, so it is a
    plain class rather than an attrs one, its fields written straight into
    its ``__dict__`` (slots could only be written through their descriptors'
    ``__set__``, one call with an argument tuple per field, and an attrs
    constructor costs three times that): it is made once per call, on replay
    too. ``retry`` and ``timeout`` are class-level None unless given. It is
    just as immutable to users (the frozen base refuses every assignment),
    keyword-only, and compares and prints like the other commands
    (``definition`` is left out of both).
    """

    activity: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    retry: RetryPolicy | None = None
    timeout: timedelta | None = None
    definition: ActivityDefinition | None = None

    def __init__(
        self,
        *,
        activity: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        retry: RetryPolicy | None = None,
        timeout: timedelta | None = None,
        definition: ActivityDefinition | None = None,
    ) -> None:
        _fill(self.__dict__, activity, args, kwargs, retry, timeout, definition)

    def _key(self) -> tuple[Any, ...]:
        return (self.activity, self.args, self.kwargs, self.retry, self.timeout)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Call:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())  # a TypeError for the dict of kwargs, as with attrs

    def __repr__(self) -> str:
        return (
            f"Call(activity={self.activity!r}, args={self.args!r}, kwargs={self.kwargs!r}, "
            f"retry={self.retry!r}, timeout={self.timeout!r})"
        )


def _fill(
    fields: dict[str, Any],
    activity: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    retry: RetryPolicy | None,
    timeout: timedelta | None,
    definition: ActivityDefinition | None,
) -> None:
    fields["activity"] = activity
    fields["args"] = args
    fields["kwargs"] = kwargs
    if retry is not None:
        fields["retry"] = retry
    if timeout is not None:
        fields["timeout"] = timeout
    if definition is not None:
        fields["definition"] = definition


_NEW: Final = object.__new__


def new_call(
    activity: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    retry: RetryPolicy | None,
    timeout: timedelta | None,
    definition: ActivityDefinition | None,
) -> Call:
    """A `Call` built without its keyword constructor: what `aion.call` does once per step.

    A third of the cost of ``Call(activity=..., ...)`` (no keyword binding,
    no ``__init__`` frame), for the same object.
    """
    command: Call = _NEW(Call)
    fields = command.__dict__
    fields["activity"] = activity
    fields["args"] = args
    fields["kwargs"] = kwargs
    fields["definition"] = definition
    if retry is not None:
        fields["retry"] = retry
    if timeout is not None:
        fields["timeout"] = timeout
    return command


@attrs.frozen(kw_only=True)
class Sleep(Command[None]):
    """Wait for a durable timer."""

    duration: timedelta


@attrs.frozen(kw_only=True)
class Now(Command[datetime]):
    """Send back the deterministic current time (aware UTC datetime)."""


@attrs.frozen(kw_only=True)
class Random(Command[float]):
    """Send back a deterministic float in [0, 1)."""


@attrs.frozen(kw_only=True)
class UUID4(Command[UUID]):
    """Send back a deterministic random UUID."""


@attrs.frozen(kw_only=True)
class ReceiveSignal(Command[Any]):
    """Wait for the next signal of a name and send back its payload."""

    name: str


@attrs.frozen(kw_only=True)
class SendSignal(Command[None]):
    """Deliver a signal to another workflow."""

    workflow_id: str
    name: str
    payload: Any


class ParentClose(enum.Enum):
    """What happens to a child started with `start_child` when its parent's run ends.

    A child started *and awaited* (``await_child(workflow, ...)``) is tied to
    its await: when that await is cancelled (it lost a `collect_race`, a
    `with_timeout` deadline cut it off, a sibling failed fast, or the parent
    ended or was cancelled while waiting), the child is cancelled too, in the
    same transaction. A child started with `start_child` runs on its own, and
    this policy says what its parent's end does to it. The policy is recorded
    with the start, so the recorded one governs.

    Attributes:
        PROPAGATE_CANCEL: The default. Cancelling the parent cancels the child
            (`aion.Cancelled` is thrown into it, so it can compensate); a parent
            that completes, fails or continues as new leaves it running
            (fire-and-forget, which is what starting without awaiting says).
        CANCEL: The child is cancelled whenever the parent's run ends while the
            child still runs (completed, failed, cancelled or continued as new).
        ABANDON: The child always runs on, even when the parent is cancelled.
    """

    PROPAGATE_CANCEL = "propagate_cancel"
    CANCEL = "cancel"
    ABANDON = "abandon"


@attrs.frozen(kw_only=True)
class StartChild(Command[ChildHandle[Any]]):
    """Record and start a child workflow; send back its `ChildHandle`."""

    workflow: str
    args: tuple[Any, ...]
    workflow_id: str | None = None
    parent_close: ParentClose = ParentClose.PROPAGATE_CANCEL


@attrs.frozen(kw_only=True)
class AwaitChild(Command[Any]):
    """Wait for a child workflow's result (starting it first when given a workflow)."""

    handle: ChildHandle[Any] | None = None
    workflow: str | None = None
    args: tuple[Any, ...] = ()
    workflow_id: str | None = None


@attrs.frozen(kw_only=True)
class CollectAll(Command[list[Any]]):
    """Run member commands concurrently; send back their values in input order."""

    commands: tuple[Command[Any], ...]


@attrs.frozen(kw_only=True)
class CollectRace(Command[tuple[int, Any]]):
    """Run member commands concurrently; send back ``(index, value)`` of the first to settle."""

    commands: tuple[Command[Any], ...]


@attrs.frozen(kw_only=True)
class CollectMap(Command[list[Any]]):
    """Call one activity per item with bounded concurrency; values in input order."""

    calls: tuple[Call, ...]
    concurrency: int | None = None


@attrs.frozen(kw_only=True)
class WithTimeout(Command[Any]):
    """Run a command under a durable deadline."""

    duration: timedelta
    command: Command[Any]


@attrs.frozen(kw_only=True)
class OnQuery(Command[None]):
    """Register a read-only query handler; records nothing."""

    name: str
    handler: Callable[..., Any] = attrs.field(eq=False)


@attrs.frozen(kw_only=True)
class ContinueAsNew(Command[NoReturn]):
    """End this run and start a fresh run of the same workflow id."""

    args: tuple[Any, ...]


@attrs.frozen(kw_only=True)
class Patched(Command[bool]):
    """A versioning marker: True under new code, False replaying an older history."""

    change_id: str
