"""The yield vocabulary: frozen, keyword-only command objects and their factories.

A workflow generator yields these; the interpreter gives each one an ordinal,
records it, and sends back its value. Commands carry data only: all behaviour
(matching, completion rules, cancellation) lives in the interpreter. Activity
and workflow references are stored by registered name so a command is plain
data that can be described in a divergence report.

Typing: every command is a ``Command[T]`` where ``T`` is the type of the value
the workflow gets back. The concrete classes stay plain (non-generic) data;
the factories carry the precise value type (``call(charge, ...)`` is a
``Command[<charge's return type>]``), so the generics cost nothing at run time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine, Generator, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, NoReturn, ParamSpec, TypeAlias, TypeVar, cast, overload
from uuid import UUID

import attrs

from aion._definitions import (
    ActivityDefinition,
    RetryPolicy,
    activity_definition,
    workflow_name,
)
from aion._errors import ConfigurationError

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


@attrs.frozen(kw_only=True)
class Call(Command[Any]):
    """Run an activity and send back its result."""

    activity: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    retry: RetryPolicy | None = None
    timeout: timedelta | None = None
    definition: ActivityDefinition | None = attrs.field(default=None, eq=False, repr=False)


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


def _as_timedelta(value: object, what: str) -> timedelta:
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = timedelta(seconds=value)
    else:
        msg = f"{what} takes a timedelta or a number of seconds, got {type(value).__name__}."
        raise ConfigurationError(msg)
    if result < timedelta(0):
        msg = f"{what} takes a non-negative duration, got {result}."
        raise ConfigurationError(msg)
    return result


# Overloads, tried in order. A ParamSpec cannot be followed by keyword-only
# parameters, so a call with a ``retry=``/``timeout=`` override is typed by the
# first four, which require one of those keywords: the value type is kept, the
# activity's arguments are not checked. Every other call is checked against the
# activity's signature by the ParamSpec pair (an ``async def`` activity's value
# is what it returns, not its coroutine). Requiring the override keywords keeps
# a call with wrong arguments from falling through to an unchecked overload.
@overload
def call(
    activity: Callable[..., Coroutine[Any, Any, R]],
    *args: Any,
    retry: RetryPolicy | None,
    timeout: timedelta | None = None,
    **kwargs: Any,
) -> Command[R]: ...
@overload
def call(
    activity: Callable[..., Coroutine[Any, Any, R]],
    *args: Any,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None,
    **kwargs: Any,
) -> Command[R]: ...
@overload
def call(
    activity: Callable[..., R],
    *args: Any,
    retry: RetryPolicy | None,
    timeout: timedelta | None = None,
    **kwargs: Any,
) -> Command[R]: ...
@overload
def call(
    activity: Callable[..., R],
    *args: Any,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None,
    **kwargs: Any,
) -> Command[R]: ...
@overload
def call(
    activity: Callable[P, Coroutine[Any, Any, R]], *args: P.args, **kwargs: P.kwargs
) -> Command[R]: ...
@overload
def call(activity: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Command[R]: ...
@overload
def call(
    activity: str,
    *args: Any,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None = None,
    **kwargs: Any,
) -> Command[Any]: ...
def call(  # type: ignore[misc]  # an activity's own `retry=`/`timeout=` must go positionally
    activity: Callable[..., Any] | str,
    *args: Any,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None = None,
    **kwargs: Any,
) -> Command[Any]:
    """Run an activity with arguments; the value sent back is its result.

    ``retry`` and ``timeout`` override the decorator's options for this call
    (an activity keyword argument with one of those names must go positionally).
    After the last failed attempt `aion.ActivityError` is raised in the workflow.
    """
    if isinstance(activity, str):
        return Call(activity=activity, args=args, kwargs=kwargs, retry=retry, timeout=timeout)
    definition = activity_definition(activity)
    return Call(
        activity=definition.name,
        args=args,
        kwargs=kwargs,
        retry=retry,
        timeout=timeout,
        definition=definition,
    )


def same_bound_arguments(
    fn: Callable[..., Any],
    args_a: Sequence[Any],
    kwargs_a: dict[str, Any],
    args_b: Sequence[Any],
    kwargs_b: dict[str, Any],
) -> bool:
    """Whether two calls of ``fn`` bind the same arguments to the same parameters.

    ``charge("o-1", cents=5)`` and ``charge("o-1", 5)`` are the same call: on
    replay, passing an argument by keyword instead of by position (or back)
    is not a divergence. Defaults are not filled in, so adding an explicit
    argument still is one.
    """
    import inspect

    try:
        signature = inspect.signature(fn)
        a = signature.bind(*args_a, **kwargs_a).arguments
        b = signature.bind(*args_b, **kwargs_b).arguments
    except (TypeError, ValueError):
        return False
    return dict(a) == dict(b)


def sleep(duration: timedelta | float) -> Command[None]:
    """Wait for a durable timer of ``duration`` (a timedelta or seconds)."""
    return Sleep(duration=_as_timedelta(duration, "sleep()"))


_NOW = Now()
_RANDOM = Random()
_UUID4 = UUID4()


def now() -> Command[datetime]:
    """The deterministic current time: when the latest consumed event was recorded."""
    return _NOW


def random() -> Command[float]:
    """A deterministic float in [0, 1), seeded from workflow id, run id and ordinal."""
    return _RANDOM


def uuid4() -> Command[UUID]:
    """A deterministic UUID4, seeded from workflow id, run id and ordinal."""
    return _UUID4


def receive_signal(name: str) -> Command[Any]:
    """Wait for the next signal called ``name``; early signals are buffered."""
    return ReceiveSignal(name=name)


def send_signal(workflow_id: str, name: str, payload: Any = None) -> Command[None]:
    """Deliver a signal to another workflow (exactly once, recorded in both histories)."""
    return SendSignal(workflow_id=workflow_id, name=name, payload=payload)


# A child's arguments are not checked (``workflow_id=`` after ``*args`` rules
# out a ParamSpec); its result type is, when the workflow is annotated.
@overload
def start_child(
    workflow: Callable[..., Generator[Any, Any, R]],
    *args: Any,
    workflow_id: str | None = None,
    parent_close: ParentClose | str = ParentClose.PROPAGATE_CANCEL,
) -> Command[ChildHandle[R]]: ...
@overload
def start_child(
    workflow: Callable[..., Any] | str,
    *args: Any,
    workflow_id: str | None = None,
    parent_close: ParentClose | str = ParentClose.PROPAGATE_CANCEL,
) -> Command[ChildHandle[Any]]: ...
def start_child(
    workflow: Callable[..., Any] | str,
    *args: Any,
    workflow_id: str | None = None,
    parent_close: ParentClose | str = ParentClose.PROPAGATE_CANCEL,
) -> Command[ChildHandle[Any]]:
    """Record and start a child workflow; the value sent back is a `ChildHandle`.

    The child id defaults to ``"{parent_id}/{ordinal}"``: deterministic, so a
    replayed parent finds the same child.

    Args:
        workflow: The child workflow (function or registered name).
        *args: Its arguments.
        workflow_id: The child's id (default: derived from the parent's).
        parent_close: What the parent's end does to the child (`ParentClose`,
            or its value as a string): by default it is cancelled only if the
            parent is cancelled.

    Raises:
        aion.ConfigurationError: ``parent_close`` is not a `ParentClose` value.
    """
    try:
        policy = ParentClose(parent_close)
    except ValueError:
        known = ", ".join(repr(p.value) for p in ParentClose)
        msg = f"parent_close must be one of {known}, not {parent_close!r}."
        raise ConfigurationError(msg) from None
    return StartChild(
        workflow=workflow_name(workflow), args=args, workflow_id=workflow_id, parent_close=policy
    )


@overload
def await_child(handle_or_workflow: ChildHandle[R], /) -> Command[R]: ...
@overload
def await_child(
    handle_or_workflow: Callable[..., Generator[Any, Any, R]],
    /,
    *args: Any,
    workflow_id: str | None = None,
) -> Command[R]: ...
@overload
def await_child(
    handle_or_workflow: Callable[..., Any] | str, /, *args: Any, workflow_id: str | None = None
) -> Command[Any]: ...
def await_child(
    handle_or_workflow: ChildHandle[Any] | Callable[..., Any] | str,
    *args: Any,
    workflow_id: str | None = None,
) -> Command[Any]:
    """Wait for a child's result; given a workflow instead of a handle, start it first.

    A failed or cancelled child raises `aion.ChildWorkflowError` in the parent.
    """
    if isinstance(handle_or_workflow, ChildHandle):
        if args:
            msg = "await_child(handle) takes no arguments: the child was started already."
            raise ConfigurationError(msg)
        return AwaitChild(handle=handle_or_workflow)
    return AwaitChild(
        workflow=workflow_name(handle_or_workflow), args=args, workflow_id=workflow_id
    )


def _check_members(commands: Iterable[Any], what: str) -> tuple[Command[Any], ...]:
    members = tuple(commands)
    for i, member in enumerate(members):
        if not isinstance(member, Command):
            msg = f"{what} member {i} is a {type(member).__name__}, not an aion command."
            raise ConfigurationError(msg)
        if isinstance(member, OnQuery | ContinueAsNew):
            msg = f"{what} member {i} ({type(member).__name__}) cannot run inside a group."
            raise ConfigurationError(msg)
    return members


def collect_all(commands: Iterable[Command[T]]) -> Command[list[T]]:
    """Run commands concurrently; the value sent back is their values in input order.

    Fail fast: the first recorded failure (lowest ordinal among failures
    recorded together) is raised, and every still-pending member is cancelled.
    """
    return CollectAll(commands=_check_members(commands, "collect_all"))


def collect_race(commands: Iterable[Command[T]]) -> Command[tuple[int, T]]:
    """Run commands concurrently; the value sent back is ``(index, value)`` of the first.

    The first *recorded* outcome wins, success or failure (a failure raises);
    the losers are cancelled and their cancellation recorded.
    """
    members = _check_members(commands, "collect_race")
    if not members:
        msg = "collect_race() needs at least one command: a race with no runners never ends."
        raise ConfigurationError(msg)
    return CollectRace(commands=members)


@overload
def collect_map(
    activity: Callable[..., Coroutine[Any, Any, R]],
    items: Iterable[Sequence[Any] | Any],
    concurrency: int | None = None,
) -> Command[list[R]]: ...
@overload
def collect_map(
    activity: Callable[..., R],
    items: Iterable[Sequence[Any] | Any],
    concurrency: int | None = None,
) -> Command[list[R]]: ...
@overload
def collect_map(
    activity: str,
    items: Iterable[Sequence[Any] | Any],
    concurrency: int | None = None,
) -> Command[list[Any]]: ...
def collect_map(
    activity: Callable[..., Any] | str,
    items: Iterable[Sequence[Any] | Any],
    concurrency: int | None = None,
) -> Command[list[Any]]:
    """Call ``activity(*item)`` for every item, at most ``concurrency`` at a time.

    An item that is not a tuple or list is passed as the single argument.
    Values come back in input order; failures fail fast as in `collect_all`.
    """
    if concurrency is not None and concurrency < 1:
        msg = f"collect_map concurrency must be at least 1, got {concurrency}."
        raise ConfigurationError(msg)
    # call() is typed as a Command[R] for users; what it builds is a Call.
    calls = tuple(
        cast(
            Call, call(activity, *item) if isinstance(item, tuple | list) else call(activity, item)
        )
        for item in items
    )
    return CollectMap(calls=calls, concurrency=concurrency)


def with_timeout(duration: timedelta | float, command: Command[T]) -> Command[T]:
    """Run ``command`` under a durable deadline; `aion.Timeout` is raised if it fires first."""
    checked: object = command  # untyped callers pass anything
    if not isinstance(checked, Command):
        msg = f"with_timeout needs an aion command, got {type(checked).__name__}."
        raise ConfigurationError(msg)
    return WithTimeout(duration=_as_timedelta(duration, "with_timeout()"), command=command)


def on_query(name: str, handler: Callable[..., Any]) -> Command[None]:
    """Register a read-only query handler (a closure over the workflow's variables)."""
    return OnQuery(name=name, handler=handler)


def continue_as_new(*args: Any) -> Command[NoReturn]:
    """End this run and start a fresh run of the same workflow id with new arguments."""
    return ContinueAsNew(args=args)


def patched(change_id: str) -> Command[bool]:
    """True when this point is reached under new code; False replaying an older history."""
    return Patched(change_id=change_id)
