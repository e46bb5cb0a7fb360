"""Small helpers for the interpreter: source lines, argument decoding, seeds."""

from __future__ import annotations

import dis
import hashlib
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

from aion import _codec
from aion._definitions import DEFAULT_RETRY
from aion._errors import QueryError

_PATHS: dict[str, str] = {}


def short_path(filename: str) -> str:
    short = _PATHS.get(filename)
    if short is None:
        try:
            rel = os.path.relpath(filename)
            short = filename if rel.startswith("..") else rel
        except ValueError:
            short = filename
        _PATHS[filename] = short
    return short


def source_of(gen: Any) -> str:
    """``file:line`` of the innermost frame suspended at a yield (follows ``yield from``)."""
    while True:
        sub = getattr(gen, "gi_yieldfrom", None)
        if sub is None or getattr(sub, "gi_frame", None) is None:
            break
        gen = sub
    frame = gen.gi_frame
    if frame is None:
        return ""
    key = (frame.f_code, frame.f_lineno)
    source = _SOURCES.get(key)
    if source is None:  # once per yield site, not once per command
        if len(_SOURCES) > 65536:  # code built at run time: do not grow without bound
            _SOURCES.clear()
        source = _SOURCES[key] = f"{short_path(frame.f_code.co_filename)}:{frame.f_lineno}"
    return source


_SOURCES: dict[tuple[Any, int], str] = {}


_PARAM_TYPES: dict[Callable[..., Any], list[Any]] = {}


def param_types(fn: Callable[..., Any]) -> list[Any]:
    """Annotated types of a workflow's positional parameters (Any when absent)."""
    types = _PARAM_TYPES.get(fn)
    if types is None:
        import typing

        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable annotations: pass JSON values through
            hints = {}
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
        types = [hints.get(p.name, Any) for p in params]
        if params and params[-1].kind is inspect.Parameter.VAR_POSITIONAL:
            types.append(...)  # marks "repeat the last type"
        _PARAM_TYPES[fn] = types
    return types


def decode_args(fn: Callable[..., Any], args: Sequence[Any], what: str) -> list[Any]:
    """Structure JSON arguments into a function's annotated parameter types."""
    types = param_types(fn)
    variadic = bool(types) and types[-1] is ...
    out = []
    for i, value in enumerate(args):
        if i < len(types) and types[i] is not ...:
            type_ = types[i]
        elif variadic and len(types) >= 2:  # [..., T, ...]: repeat T
            type_ = types[-2]
        else:
            type_ = Any
        out.append(_codec.from_jsonable(value, type_, f"{what} argument {i}"))
    return out


_POLICY_JSON: dict[int, tuple[Any, Any]] = {}


def policy_json(policy: Any) -> Any:
    """A retry policy as JSON, converted once per policy.

    Every event of the same policy shares the one dict: events are immutable by
    contract, and a copy per call was a tenth of the cost of replaying a call.
    """
    # Keyed by identity (hashing the attrs policy costs as much as the rest of the
    # lookup); the policy is kept in the entry so its id cannot be reused.
    entry = _POLICY_JSON.get(id(policy))
    if entry is None or entry[0] is not policy:
        if len(_POLICY_JSON) > 1024:  # policies built per call: do not grow without bound
            _POLICY_JSON.clear()
        entry = _POLICY_JSON[id(policy)] = (policy, _codec.to_jsonable(policy))
    return entry[1]


_CALL_OPTIONS: dict[int, tuple[Any, Any, float | None]] = {}


def call_options(definition: Any) -> tuple[Any, float | None]:
    """A call's recorded ``retry`` and ``timeout`` when it overrides neither: its definition's.

    Every live call records its policy as JSON and its timeout in seconds;
    both come from the (frozen) definition, so they are worked out once per
    definition instead of once per call. No definition means the default
    policy and no timeout.
    """
    # Keyed by identity like `policy_json`, with the definition kept so its id is not reused.
    entry = _CALL_OPTIONS.get(id(definition))
    if entry is None or entry[0] is not definition:
        if len(_CALL_OPTIONS) > 1024:  # definitions built at run time: do not grow without bound
            _CALL_OPTIONS.clear()
        if definition is None:
            retry, timeout = policy_json(DEFAULT_RETRY), None
        else:
            retry, timeout = policy_json(definition.retry), definition.timeout
        seconds = timeout.total_seconds() if timeout is not None else None
        entry = _CALL_OPTIONS[id(definition)] = (definition, retry, seconds)
    return entry[1], entry[2]


def seed(*parts: Any) -> bytes:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()


def argument_problem(fn: Callable[..., Any], args: Sequence[Any]) -> str | None:
    """Why ``fn(*args)`` cannot be called (its signature refuses them), or None.

    Checked before a start is recorded, and again before a recorded input is
    handed to the generator function: a call that cannot bind is reported
    as a sentence instead of a `TypeError` from deep inside the engine.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C callable: let the call decide
        return None
    try:
        signature.bind(*args)
    except TypeError as exc:
        plain = signature.replace(
            parameters=[
                p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()
            ],
            return_annotation=inspect.Signature.empty,
        )
        return f"{fn.__qualname__}{plain} cannot take {len(args)} argument(s): {exc}"
    return None


_RAISE_OPS: frozenset[int] = frozenset(
    dis.opmap[name] for name in ("RAISE_VARARGS", "RERAISE") if name in dis.opmap
)


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a real Ctrl-C, not a ``raise KeyboardInterrupt`` in workflow code.

    Both arrive as `KeyboardInterrupt` out of the generator. A signal's is
    raised by the interpreter loop wherever the thread happened to be (a
    loop's backward jump, a call), while a raised one comes from a ``raise``
    instruction. The first must stop the engine as Ctrl-C always does; the
    second is the workflow's own failure and is recorded as such.
    """
    if not isinstance(exc, KeyboardInterrupt):
        return False
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code.co_code
    lasti = tb.tb_lasti
    return not (0 <= lasti < len(code) and code[lasti] in _RAISE_OPS)


def answer_query(
    queries: dict[str, Callable[..., Any]], workflow_id: str, name: str, args: Sequence[Any]
) -> Any:
    """Call query ``name``'s handler; anything it raises (but a real Ctrl-C) is a `QueryError`.

    A query runs user code against a live generator's state outside any step,
    so its failure is the caller's to hear about, never the engine's.
    """
    handler = queries.get(name)
    if handler is None:
        known = ", ".join(sorted(queries)) or "none"
        msg = f"workflow {workflow_id!r} has no query {name!r} (registered: {known})."
        raise QueryError(msg)
    try:
        return handler(*args)
    except BaseException as exc:
        if is_interrupt(exc):
            raise
        msg = f"query {name!r} on workflow {workflow_id!r} raised {type(exc).__name__}: {exc}"
        raise QueryError(msg) from exc
