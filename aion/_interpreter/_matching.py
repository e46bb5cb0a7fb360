"""What replay matches a decision on: the one rule for "this is the recorded command".

A command matches its recorded event when the class, the ordinal and the
digest (what the command does, hashed) are the same. An activity call whose
digest differs may still be the same call: passed by keyword instead of
position, it binds the same arguments to the same parameters. Endings match
on what they decide (the result, the error type, the successor's input).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

from aion import _codec
from aion._events import (
    ActivityScheduled,
    CommandCancelled,
    CommandEvent,
    Event,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
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
    try:
        signature = inspect.signature(fn)
        a = signature.bind(*args_a, **kwargs_a).arguments
        b = signature.bind(*args_b, **kwargs_b).arguments
    except (TypeError, ValueError):
        return False
    return dict(a) == dict(b)


def same_command(recorded: Event, cls: type[Event], ordinal: int, digest: str) -> bool:
    """Whether ``recorded`` is the command of class ``cls`` at ``ordinal`` doing ``digest``."""
    return (
        type(recorded) is cls
        and isinstance(recorded, CommandEvent)
        and recorded.ordinal == ordinal
        and recorded.digest == digest
    )


def same_call(
    recorded: Event,
    ordinal: int,
    name: str,
    fn: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
) -> TypeGuard[ActivityScheduled]:
    """Whether ``recorded`` is this activity call with its arguments passed another way."""
    return (
        isinstance(recorded, ActivityScheduled)
        and recorded.ordinal == ordinal
        and recorded.name == name
        and same_bound_arguments(fn, recorded.args, recorded.kwargs, args, kwargs)
    )


def same_decision(recorded: Event, cls: type[Event], fields: dict[str, Any]) -> bool:
    """Whether the decision ``cls(**fields)`` the code made now is the ``recorded`` one."""
    if type(recorded) is not cls:
        return False
    if isinstance(recorded, CommandEvent):
        return same_command(recorded, cls, fields["ordinal"], fields["digest"])
    if isinstance(recorded, CommandCancelled):
        return bool(recorded.ordinal == fields["ordinal"])
    if isinstance(recorded, WorkflowCompleted):
        return bool(_codec.dumps(recorded.result) == _codec.dumps(fields["result"]))
    if isinstance(recorded, WorkflowFailed):
        return bool(recorded.error.type == fields["error"].type)
    if isinstance(recorded, WorkflowContinuedAsNew):
        return bool(_codec.dumps(recorded.args) == _codec.dumps(fields["args"]))
    return True
