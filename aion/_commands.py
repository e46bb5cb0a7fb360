"""The yield vocabulary: frozen, keyword-only command objects and their factories.

A workflow generator yields these; the interpreter gives each one an ordinal,
records it, and sends back its value. Commands carry data only: all behaviour
(matching, completion rules, cancellation) lives in the interpreter. Activity
and workflow references are stored by registered name so a command is plain
data that can be described in a divergence report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

import attrs

from aion._definitions import (
    ActivityDefinition,
    RetryPolicy,
    activity_definition,
    workflow_name,
)
from aion._errors import ConfigurationError

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Command(Generic[T]):
    """Base of every command; ``T`` is the type of the value sent back."""


@attrs.frozen(kw_only=True)
class ChildHandle:
    """A started child workflow, returned by `start_child` and accepted by `await_child`.

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
class Now(Command[Any]):
    """Send back the deterministic current time (aware UTC datetime)."""


@attrs.frozen(kw_only=True)
class Random(Command[float]):
    """Send back a deterministic float in [0, 1)."""


@attrs.frozen(kw_only=True)
class UUID4(Command[Any]):
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


@attrs.frozen(kw_only=True)
class StartChild(Command[ChildHandle]):
    """Record and start a child workflow; send back its `ChildHandle`."""

    workflow: str
    args: tuple[Any, ...]
    workflow_id: str | None = None


@attrs.frozen(kw_only=True)
class AwaitChild(Command[Any]):
    """Wait for a child workflow's result (starting it first when given a workflow)."""

    handle: ChildHandle | None = None
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
class ContinueAsNew(Command[Any]):
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


def call(
    activity: Callable[..., Any] | str,
    *args: Any,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None = None,
    **kwargs: Any,
) -> Call:
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


def sleep(duration: timedelta | float) -> Sleep:
    """Wait for a durable timer of ``duration`` (a timedelta or seconds)."""
    return Sleep(duration=_as_timedelta(duration, "sleep()"))


_NOW = Now()
_RANDOM = Random()
_UUID4 = UUID4()


def now() -> Now:
    """The deterministic current time: when the latest consumed event was recorded."""
    return _NOW


def random() -> Random:
    """A deterministic float in [0, 1), seeded from workflow id, run id and ordinal."""
    return _RANDOM


def uuid4() -> UUID4:
    """A deterministic UUID4, seeded from workflow id, run id and ordinal."""
    return _UUID4


def receive_signal(name: str) -> ReceiveSignal:
    """Wait for the next signal called ``name``; early signals are buffered."""
    return ReceiveSignal(name=name)


def send_signal(workflow_id: str, name: str, payload: Any = None) -> SendSignal:
    """Deliver a signal to another workflow (exactly once, recorded in both histories)."""
    return SendSignal(workflow_id=workflow_id, name=name, payload=payload)


def start_child(
    workflow: Callable[..., Any] | str, *args: Any, workflow_id: str | None = None
) -> StartChild:
    """Record and start a child workflow; the value sent back is a `ChildHandle`.

    The child id defaults to ``"{parent_id}/{ordinal}"``: deterministic, so a
    replayed parent finds the same child.
    """
    return StartChild(workflow=workflow_name(workflow), args=args, workflow_id=workflow_id)


def await_child(
    handle_or_workflow: ChildHandle | Callable[..., Any] | str,
    *args: Any,
    workflow_id: str | None = None,
) -> AwaitChild:
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


def collect_all(commands: Iterable[Command[Any]]) -> CollectAll:
    """Run commands concurrently; the value sent back is their values in input order.

    Fail fast: the first recorded failure (lowest ordinal among failures
    recorded together) is raised, and every still-pending member is cancelled.
    """
    return CollectAll(commands=_check_members(commands, "collect_all"))


def collect_race(commands: Iterable[Command[Any]]) -> CollectRace:
    """Run commands concurrently; the value sent back is ``(index, value)`` of the first.

    The first *recorded* outcome wins, success or failure (a failure raises);
    the losers are cancelled and their cancellation recorded.
    """
    members = _check_members(commands, "collect_race")
    if not members:
        msg = "collect_race() needs at least one command: a race with no runners never ends."
        raise ValueError(msg)
    return CollectRace(commands=members)


def collect_map(
    activity: Callable[..., Any] | str,
    items: Iterable[Sequence[Any] | Any],
    concurrency: int | None = None,
) -> CollectMap:
    """Call ``activity(*item)`` for every item, at most ``concurrency`` at a time.

    An item that is not a tuple or list is passed as the single argument.
    Values come back in input order; failures fail fast as in `collect_all`.
    """
    if concurrency is not None and concurrency < 1:
        msg = f"collect_map concurrency must be at least 1, got {concurrency}."
        raise ConfigurationError(msg)
    calls = tuple(
        call(activity, *item) if isinstance(item, tuple | list) else call(activity, item)
        for item in items
    )
    return CollectMap(calls=calls, concurrency=concurrency)


def with_timeout(duration: timedelta | float, command: Command[T]) -> WithTimeout:
    """Run ``command`` under a durable deadline; `aion.Timeout` is raised if it fires first."""
    checked: object = command  # untyped callers pass anything
    if not isinstance(checked, Command):
        msg = f"with_timeout needs an aion command, got {type(checked).__name__}."
        raise ConfigurationError(msg)
    return WithTimeout(duration=_as_timedelta(duration, "with_timeout()"), command=command)


def on_query(name: str, handler: Callable[..., Any]) -> OnQuery:
    """Register a read-only query handler (a closure over the workflow's variables)."""
    return OnQuery(name=name, handler=handler)


def continue_as_new(*args: Any) -> ContinueAsNew:
    """End this run and start a fresh run of the same workflow id with new arguments."""
    return ContinueAsNew(args=args)


def patched(change_id: str) -> Patched:
    """True when this point is reached under new code; False replaying an older history."""
    return Patched(change_id=change_id)
