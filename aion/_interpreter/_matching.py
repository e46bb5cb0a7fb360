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
    if a.keys() != b.keys():
        return False
    for name, value in a.items():
        other = b[name]
        if type(value) is tuple and type(other) is tuple:  # a *args parameter's values
            if len(value) != len(other) or not all(map(same_json, value, other)):
                return False
        elif not same_json(value, other):  # type-strict: 1, 1.0 and True differ
            return False
    return True


def same_json(recorded: Any, current: Any) -> bool:
    """Whether ``current`` is exactly the JSON value ``recorded`` (what equal digests mean).

    Type-strict where Python's ``==`` is not: ``1``, ``1.0`` and ``True``
    differ, as their JSON texts do, and so do ``0.0`` and ``-0.0``. Dict keys
    compare as a set, since the digest's JSON text sorts them. ``recorded``
    is a decoded payload (JSON types only), so a True answer also proves
    ``current`` is plain JSON: the caller needs no conversion to record it.
    """
    kind = type(recorded)
    if type(current) is not kind:
        return False
    if kind is list:
        return len(recorded) == len(current) and all(map(same_json, recorded, current))
    if kind is dict:
        return recorded.keys() == current.keys() and all(
            same_json(value, current[key]) for key, value in recorded.items()
        )
    if kind is float:
        return bool(recorded == current and str(recorded) == str(current))
    return bool(recorded == current)


def same_recorded_call(recorded: Event, ordinal: int, name: str, args: Any, kwargs: Any) -> bool:
    """Replay's common case: ``recorded`` is this very call, compared value by value.

    Cheaper than computing the call's digest (JSON text and a hash) to compare
    it with the recorded one, and exactly as strict; ``args`` may be the
    command's tuple, matched against the recorded list item by item.
    """
    if type(recorded) is not ActivityScheduled:
        return False
    rec: Any = recorded  # an ActivityScheduled: its fields, without a second type check
    rec_args = rec.args
    if rec.ordinal != ordinal or rec.name != name or len(rec_args) != len(args):
        return False
    # Indexed, not zipped: the lengths are equal, and ``zip(..., strict=True)`` parses
    # its keyword on every call (a third of this function's cost).
    i = 0
    for old in rec_args:
        new = args[i]
        i += 1  # noqa: SIM113 - a counter costs less than enumerate's tuples, every replayed call
        # Inlined `same_json` for the common scalar argument; containers recurse.
        kind = type(old)
        if type(new) is not kind:
            return False
        if kind is str or kind is int or kind is bool or old is None:
            if old != new:
                return False
        elif not same_json(old, new):
            return False
    if kwargs or rec.kwargs:
        return same_json(rec.kwargs, kwargs)
    return True


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
