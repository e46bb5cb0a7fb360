"""The yield vocabulary: the functions a workflow yields (`call`, `sleep`, `collect_all`, ...).

Each returns a frozen command of `aion._commands` after checking what it was
given (a clear `ConfigurationError` at the yield, never a stalled run later),
and carries the precise value type: ``call(charge, ...)`` is a
``Command[<charge's return type>]``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn, ParamSpec, TypeVar, cast, overload
from uuid import UUID

from aion._commands import (
    UUID4,
    AwaitChild,
    Call,
    ChildHandle,
    CollectAll,
    CollectMap,
    CollectRace,
    Command,
    ContinueAsNew,
    Now,
    OnQuery,
    ParentClose,
    Patched,
    Random,
    ReceiveSignal,
    SendSignal,
    Sleep,
    StartChild,
    WithTimeout,
    new_call,
)
from aion._definitions import (
    ACTIVITY_ATTR,
    ActivityDefinition,
    RetryPolicy,
    activity_definition,
    workflow_name,
)
from aion._errors import ConfigurationError

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


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
    # `activity_definition`, inlined for the common case: a call is made once per step.
    definition = getattr(activity, ACTIVITY_ATTR, None)
    if type(definition) is not ActivityDefinition:
        if isinstance(activity, str):
            return Call(activity=activity, args=args, kwargs=kwargs, retry=retry, timeout=timeout)
        definition = activity_definition(activity)
    return new_call(definition.name, args, kwargs, retry, timeout, definition)


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
