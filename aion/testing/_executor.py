"""`ScheduledExecutor`: activity attempts that complete only when a test says so.

The engine hands every attempt to an executor (`aion.Engine(executor=...)`).
This one runs nothing on its own: it keeps attempts pending until the driver
picks one to complete (with its mock or real function, run inline on the
caller's thread) or to fail with an injected error. That gives a test full
control over the order and timing of activity completions, with no threads.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from aion import _codec
from aion._definitions import ActivityDefinition, activity_name
from aion._engine._activities import _CURRENT, ActivityInfo, Outcome
from aion._errors import AionError, CodecError
from aion._interpreter import decode_args

#: (workflow id, ordinal, attempt): an attempt's identity across engine restarts
#: (run ids of children are random, so they are left out).
AttemptKey = tuple[str, int, int]


class InjectedFailureError(AionError, RuntimeError):
    """Raised inside an activity attempt that a schedule chose to fail."""


def _is_exception(value: Any) -> bool:
    return isinstance(value, BaseException) or (
        isinstance(value, type) and issubclass(value, BaseException)
    )


@attrs.frozen
class Mock:
    """What a mocked activity does: return a value, raise, or call a function.

    Attributes:
        behaviour: A value to return, an exception (instance or class) to
            raise, or a function called with the activity's arguments.
    """

    behaviour: Any

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the mock as the activity would run."""
        b = self.behaviour
        if _is_exception(b):
            raise b
        if callable(b):
            return b(*args, **kwargs)
        return b


def normalize_mocks(mocks: Mapping[Any, Any] | None) -> dict[str, Mock]:
    """Mocks keyed by activity function or registered name -> by registered name."""
    out: dict[str, Mock] = {}
    for key, behaviour in (mocks or {}).items():
        out[activity_name(key)] = behaviour if isinstance(behaviour, Mock) else Mock(behaviour)
    return out


@attrs.define
class PendingAttempt:
    """One attempt the engine has dispatched and the test has not completed yet."""

    key: AttemptKey
    definition: ActivityDefinition
    args: list[Any]
    kwargs: dict[str, Any]
    info: ActivityInfo
    done: Callable[[Outcome], None]
    cancelled: bool = False

    def cancel(self) -> bool:
        """Called by the engine when the attempt is no longer wanted."""
        self.cancelled = True
        return True


class ScheduledExecutor:
    """An `aion.Engine` executor whose attempts complete only when told.

    Args:
        mocks: Replacement behaviour by registered activity name.
        recorded: Outcomes of an earlier run by attempt. A recovering run gets
            the outcome the uninterrupted run got for the same (workflow,
            ordinal, attempt), so an impure activity (one that reads the
            clock, a stateful mock) cannot make a correct workflow look
            nondeterministic: what differs then comes from workflow code.
    """

    waits = False

    def __init__(
        self,
        mocks: Mapping[str, Mock] | None = None,
        *,
        recorded: Mapping[AttemptKey, Outcome] | None = None,
    ) -> None:
        self.mocks: dict[str, Mock] = dict(mocks or {})
        self._pending: dict[AttemptKey, PendingAttempt] = {}
        self.calls: list[tuple[str, list[Any]]] = []
        self.outcomes: dict[AttemptKey, Outcome] = {}
        self._recorded: Mapping[AttemptKey, Outcome] = recorded or {}

    def submit(
        self,
        definition: ActivityDefinition,
        args: list[Any],
        kwargs: dict[str, Any],
        info: ActivityInfo,
        done: Callable[[Outcome], None],
    ) -> PendingAttempt:
        """Keep the attempt pending; it runs when `complete` picks it."""
        key = (info.workflow_id, info.ordinal, info.attempt)
        attempt = PendingAttempt(key, definition, list(args), dict(kwargs), info, done)
        self._pending[key] = attempt
        return attempt

    def pending(self) -> list[AttemptKey]:
        """Attempts waiting to be completed, in a stable order."""
        for key in [k for k, a in self._pending.items() if a.cancelled]:
            del self._pending[key]
        return sorted(self._pending)

    def complete(self, key: AttemptKey, *, fail: bool = False) -> None:
        """Run one pending attempt now (or fail it) and report its outcome to the engine."""
        attempt = self._pending.pop(key)
        if attempt.cancelled:
            return
        if fail:
            exc = InjectedFailureError(
                f"attempt {key[2]} of activity {attempt.definition.name!r} failed by the schedule"
            )
            attempt.done((False, _codec.error_info(exc, "")))
            return
        outcome = self._recorded.get(key)
        if outcome is None:
            outcome = self._run(attempt)
        self.outcomes[key] = outcome
        attempt.done(outcome)

    def _run(self, attempt: PendingAttempt) -> Outcome:
        definition = attempt.definition
        self.calls.append((definition.name, attempt.args))
        token = _CURRENT.set(attempt.info)
        try:
            fn: Callable[..., Any] = self.mocks.get(definition.name) or definition.fn
            what = f"activity {definition.name!r}"
            args = decode_args(definition.fn, attempt.args, what)
            value = fn(*args, **attempt.kwargs)
            if inspect.isawaitable(value):
                value = asyncio.run(_await(value))
            try:
                return True, _codec.to_jsonable(value, f"the result of {what}")
            except CodecError as exc:
                return False, _codec.error_info(exc, "")
        except BaseException as exc:  # an activity must never take the test driver down
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            return False, _codec.error_info(exc, tb)
        finally:
            _CURRENT.reset(token)

    def shutdown(self) -> None:
        """Forget pending attempts."""
        self._pending.clear()


async def _await(value: Any) -> Any:
    return await value
