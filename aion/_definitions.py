"""Workflow and activity definitions: the decorators, `RetryPolicy` and the registry.

The decorators do not wrap the function: they attach a frozen definition to it
and return it unchanged, so a decorated function stays an ordinary callable
(handy in unit tests) and keeps its exact type for mypy.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar, overload

import attrs

from aion._errors import ConfigurationError, NotRegisteredError

F = TypeVar("F", bound=Callable[..., Any])

_WORKFLOW_ATTR = "__aion_workflow__"
_ACTIVITY_ATTR = "__aion_activity__"
#: The attribute `activity` sets on a decorated function (read inline on the call path).
ACTIVITY_ATTR = _ACTIVITY_ATTR


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How an activity is retried after a failed attempt.

    The policy in force is recorded in history with the activity's scheduled
    event, so the retry schedule of a recorded call never changes under replay
    even if the decorator's policy is edited later.

    Attributes:
        max_attempts: Total attempts including the first; 1 disables retries.
        initial_interval: Wait before the second attempt.
        backoff: Multiplier applied to the wait after each further failure.
        max_interval: Upper bound for any single wait.
        non_retryable: Exception type names (``"ValueError"`` or qualified
            ``"mypkg.errors.Fatal"``) that fail the call at once.
    """

    max_attempts: int = 3
    initial_interval: timedelta = timedelta(seconds=1)
    backoff: float = 2.0
    max_interval: timedelta = timedelta(seconds=60)
    non_retryable: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            msg = f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}."
            raise ConfigurationError(msg)
        if self.backoff < 1.0:
            msg = f"RetryPolicy.backoff must be at least 1.0, got {self.backoff}."
            raise ConfigurationError(msg)


DEFAULT_RETRY = RetryPolicy()


def import_name(fn: Callable[..., Any]) -> str | None:
    """``module:qualname`` of a function, recorded so tools can import it without being told.

    None when the name could not be imported back (a function defined inside
    another, a module run as ``__main__``): recording it would only mislead.
    """
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or module == "__main__":
        return None
    parts = [*module.split("."), *qualname.split(".")]
    return f"{module}:{qualname}" if all(p.isidentifier() for p in parts) else None


@attrs.frozen(kw_only=True)
class WorkflowDefinition:
    """A registered workflow: its name and generator function."""

    name: str
    fn: Callable[..., Any]


@attrs.frozen(kw_only=True)
class ActivityDefinition:
    """A registered activity: its name, function and execution options.

    Attributes:
        name: Registered name (defaults to the function's qualified name).
        fn: The function, sync or ``async def``.
        retry: The default retry policy.
        timeout: Per-attempt timeout, or None for none.
        is_async: Whether ``fn`` is a coroutine function.
        return_type: The annotated return type, used to decode recorded results.
    """

    name: str
    fn: Callable[..., Any]
    retry: RetryPolicy
    timeout: timedelta | None
    is_async: bool
    return_type: Any


def _return_type(fn: Callable[..., Any]) -> Any:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable forward references: decode as plain JSON
        return Any
    return hints.get("return", Any)


@overload
def workflow(fn: F, /) -> F: ...
@overload
def workflow(*, name: str | None = None) -> Callable[[F], F]: ...
def workflow(fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Mark a generator function as a workflow.

    Works bare (``@aion.workflow``) or with options (``@aion.workflow(name="order")``).

    Args:
        fn: The generator function (when used bare).
        name: Registered name; defaults to the function's qualified name.

    Returns:
        The function itself, with its definition attached.
    """

    def mark(f: F) -> F:
        if not inspect.isgeneratorfunction(f):
            msg = (
                f"@aion.workflow needs a generator function (one that yields commands); "
                f"{f.__qualname__} is not."
            )
            raise ConfigurationError(msg)
        setattr(f, _WORKFLOW_ATTR, WorkflowDefinition(name=name or f.__qualname__, fn=f))
        return f

    return mark(fn) if fn is not None else mark


@overload
def activity(fn: F, /) -> F: ...
@overload
def activity(
    *,
    name: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None = None,
) -> Callable[[F], F]: ...
def activity(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None = None,
) -> F | Callable[[F], F]:
    """Mark a function (sync or ``async def``) as an activity.

    Activities do the real work: I/O, clocks, randomness. They run on the
    engine's threads, are retried by their policy, and each outcome is recorded.

    Args:
        fn: The function (when used bare).
        name: Registered name; defaults to the function's qualified name.
        retry: Retry policy; defaults to `RetryPolicy()` (3 attempts).
        timeout: Per-attempt timeout.

    Returns:
        The function itself, with its definition attached.
    """

    def mark(f: F) -> F:
        if inspect.isgeneratorfunction(f):
            msg = f"@aion.activity cannot decorate a generator function ({f.__qualname__})."
            raise ConfigurationError(msg)
        definition = ActivityDefinition(
            name=name or f.__qualname__,
            fn=f,
            retry=retry or DEFAULT_RETRY,
            timeout=timeout,
            is_async=inspect.iscoroutinefunction(f),
            return_type=_return_type(f),
        )
        setattr(f, _ACTIVITY_ATTR, definition)
        return f

    return mark(fn) if fn is not None else mark


def workflow_definition(obj: Any) -> WorkflowDefinition:
    """Return the workflow definition attached to ``obj`` or raise a clear error."""
    definition = getattr(obj, _WORKFLOW_ATTR, None)
    if not isinstance(definition, WorkflowDefinition):
        msg = f"{getattr(obj, '__qualname__', obj)!r} is not decorated with @aion.workflow."
        raise ConfigurationError(msg)
    return definition


def activity_definition(obj: Any) -> ActivityDefinition:
    """Return the activity definition attached to ``obj`` or raise a clear error."""
    definition = getattr(obj, _ACTIVITY_ATTR, None)
    if not isinstance(definition, ActivityDefinition):
        msg = f"{getattr(obj, '__qualname__', obj)!r} is not decorated with @aion.activity."
        raise ConfigurationError(msg)
    return definition


def workflow_name(obj: Any) -> str:
    """The registered name of a workflow given as a function or a name."""
    return obj if isinstance(obj, str) else workflow_definition(obj).name


def activity_name(obj: Any) -> str:
    """The registered name of an activity given as a function or a name."""
    return obj if isinstance(obj, str) else activity_definition(obj).name


class Registry:
    """Workflows and activities by registered name."""

    def __init__(self, workflows: Iterable[Any] = (), activities: Iterable[Any] = ()) -> None:
        self.workflows: dict[str, WorkflowDefinition] = {}
        self.activities: dict[str, ActivityDefinition] = {}
        for w in workflows:
            self.add_workflow(w)
        for a in activities:
            self.add_activity(a)

    def add_workflow(self, obj: Any) -> WorkflowDefinition:
        """Register a decorated workflow function; names must be unique."""
        d = workflow_definition(obj)
        existing = self.workflows.get(d.name)
        if existing is not None and existing.fn is not d.fn:
            msg = f"two different workflows are registered under the name {d.name!r}."
            raise ConfigurationError(msg)
        self.workflows[d.name] = d
        return d

    def add_activity(self, obj: Any) -> ActivityDefinition:
        """Register a decorated activity function; names must be unique."""
        d = activity_definition(obj)
        existing = self.activities.get(d.name)
        if existing is not None and existing.fn is not d.fn:
            msg = f"two different activities are registered under the name {d.name!r}."
            raise ConfigurationError(msg)
        self.activities[d.name] = d
        return d

    def workflow(self, name: str) -> WorkflowDefinition:
        """Look up a workflow by name."""
        try:
            return self.workflows[name]
        except KeyError:
            known = ", ".join(sorted(self.workflows)) or "none"
            msg = f"workflow type {name!r} is not registered (registered: {known})."
            raise NotRegisteredError(msg) from None

    def activity(self, name: str) -> ActivityDefinition:
        """Look up an activity by name."""
        try:
            return self.activities[name]
        except KeyError:
            known = ", ".join(sorted(self.activities)) or "none"
            msg = f"activity {name!r} is not registered (registered: {known})."
            raise NotRegisteredError(msg) from None
