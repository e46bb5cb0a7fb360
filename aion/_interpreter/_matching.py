"""What replay matches a decision on: the one rule for "this is the recorded command".

A command matches its recorded event when the class, the ordinal and the
digest (what the command does, hashed) are the same. An activity call whose
digest differs may still be the same call: passed by keyword instead of
position, it binds the same arguments to the same parameters. Endings match
on what they decide (the result, the error type, the successor's input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

from aion import _codec
from aion._commands import same_bound_arguments
from aion._events import (
    ActivityScheduled,
    CommandCancelled,
    CommandEvent,
    Event,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
)


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
    if isinstance(recorded, CommandEvent):
        return same_command(recorded, cls, fields["ordinal"], fields["digest"])
    if type(recorded) is not cls:
        return False
    if isinstance(recorded, CommandCancelled):
        return bool(recorded.ordinal == fields["ordinal"])
    if isinstance(recorded, WorkflowCompleted):
        return bool(_codec.dumps(recorded.result) == _codec.dumps(fields["result"]))
    if isinstance(recorded, WorkflowFailed):
        return bool(recorded.error.type == fields["error"].type)
    if isinstance(recorded, WorkflowContinuedAsNew):
        return bool(_codec.dumps(recorded.args) == _codec.dumps(fields["args"]))
    return True
