"""The one place serialization is configured: a cattrs converter plus JSON.

User values (activity arguments and results, signal payloads, workflow input)
are unstructured by the converter into JSON values and stored as JSON text, so
DuckDB's JSON functions can read them. They are structured back into the
annotated type where they are consumed. Events become rows (stores) and dicts
(fixtures) through the same converter. Payloads are JSON only: never pickle.

The converter (and cattrs) is built on first use: the common paths (plain
JSON values, events our own encoder wrote) never need it, and importing and
configuring cattrs is a sizeable share of a short-lived process (the CLI, a
replay interpreter of the determinism kit).
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from aion import _rowcodec
from aion._errors import CodecError, HistoryError
from aion._events import EVENT_KINDS, ErrorInfo, Event, kind_of
from aion._quick import NOT_QUICK as NOT_QUICK
from aion._quick import quick_decoder as quick_decoder
from aion._quick import quick_structure as quick_structure

if TYPE_CHECKING:
    import cattrs

    #: The one converter (built on first use: see `converter`).
    CONVERTER: cattrs.Converter


def _datetime_to_str(value: datetime) -> str:
    if value.tzinfo is None:
        msg = f"naive datetime {value.isoformat()} cannot be recorded: use an aware UTC datetime."
        raise CodecError(msg)
    return value.astimezone(UTC).isoformat()


def _str_to_datetime(value: Any, _: type) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def make_converter() -> cattrs.Converter:
    """Build the converter aion uses for every payload and event.

    Datetimes are ISO-8601 strings in UTC, timedeltas float seconds, UUIDs and
    Decimals strings, dates ISO strings, enums their values; attrs classes and
    dataclasses become dicts.
    """
    from decimal import Decimal

    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_unstructure_hook(datetime, _datetime_to_str)
    conv.register_structure_hook(datetime, _str_to_datetime)
    conv.register_unstructure_hook(date, lambda v: v.isoformat())
    conv.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    conv.register_unstructure_hook(timedelta, lambda v: v.total_seconds())
    conv.register_structure_hook(timedelta, lambda v, _: timedelta(seconds=v))
    conv.register_unstructure_hook(uuid.UUID, str)
    conv.register_structure_hook(uuid.UUID, lambda v, _: uuid.UUID(str(v)))
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(str(v)))
    conv.register_unstructure_hook(enum.Enum, lambda v: v.value)
    conv.register_unstructure_hook(set, lambda v: sorted(conv.unstructure(x) for x in v))
    conv.register_unstructure_hook(frozenset, lambda v: sorted(conv.unstructure(x) for x in v))
    return conv


#: The converter and the exceptions its ``structure`` raises for bad input, once built.
_BUILT: list[tuple[cattrs.Converter, tuple[type[Exception], ...]]] = []
_BUILDING = threading.Lock()


def _built() -> tuple[cattrs.Converter, tuple[type[Exception], ...]]:
    if not _BUILT:
        with _BUILDING:
            if not _BUILT:
                from cattrs.errors import BaseValidationError

                errors = (BaseValidationError, TypeError, ValueError, KeyError)
                _BUILT.append((make_converter(), errors))
    return _BUILT[0]


def converter() -> cattrs.Converter:
    """The one converter, built (and cattrs imported) the first time it is asked for."""
    return _built()[0]


def __getattr__(name: str) -> Any:
    """``CONVERTER``, built on first use (PEP 562); then a plain module attribute."""
    if name == "CONVERTER":
        conv = converter()
        globals()["CONVERTER"] = conv
        return conv
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def _validation_detail(exc: BaseException) -> str:
    """The error's text as cattrs words it (its exceptions name every bad field)."""
    from cattrs import transform_error
    from cattrs.errors import BaseValidationError

    if isinstance(exc, BaseValidationError):
        return "; ".join(transform_error(exc))
    return str(exc)


_JSON_SCALARS = (str, int, float, bool, type(None))
_EXACT_SCALARS = frozenset(_JSON_SCALARS)


#: Deepest nesting a value may have when it is recorded. The reader refuses a
#: payload nested deeper than `_rowcodec.MAX_DEPTH`, and an event wraps a value
#: in a few levels of its own (``{"args": [...]}``, an error's details), so the
#: writer keeps that margin: whatever is recorded reads back.
MAX_VALUE_DEPTH: Final = _rowcodec.MAX_DEPTH - 8


def _plain(value: Any, depth: int = 1) -> bool:
    """Whether ``value`` is already a JSON value (the fast path, no converter needed).

    NaN and the infinities are floats but not JSON: they take the slow path,
    which rejects them before anything is queued for recording. So does a
    value nested deeper than `MAX_VALUE_DEPTH`, which the slow path refuses.
    """
    kind = type(value)
    if kind in _EXACT_SCALARS:
        return kind is not float or math.isfinite(value)
    if kind is list:
        if depth > MAX_VALUE_DEPTH:
            return False
        for item in value:  # noqa: SIM110 - a loop, not all(genexpr): runs for every call's args
            if not _plain(item, depth + 1):
                return False
        return True
    if kind is dict:
        if depth > MAX_VALUE_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is not str or not _plain(item, depth + 1):
                return False
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, _JSON_SCALARS)


#: Whether a value is already JSON (so `to_jsonable` would return it as is).
is_plain: Final = _plain


def to_jsonable(value: Any, what: str = "value") -> Any:
    """Unstructure ``value`` into plain JSON values, or raise `CodecError` saying what.

    Args:
        value: Any value the converter knows (JSON values, attrs classes,
            dataclasses, datetimes, UUIDs, enums, tuples, sets...).
        what: Where the value comes from, for the error message.
    """
    if _plain(value):
        return value
    try:
        result = converter().unstructure(value)
        # Round-trip through json to reject what the converter passed through untouched
        # (sockets, locks, arbitrary objects) and NaN, which JSON cannot represent.
        json.dumps(result, allow_nan=False)
    except CodecError:
        raise
    except (TypeError, ValueError) as exc:
        msg = f"{what} cannot be encoded as JSON: {type(value).__name__} ({exc})."
        raise CodecError(msg) from None
    except RecursionError:
        result = None  # deeper than Python can walk: refused just below
    if result is None or _rowcodec.too_deep(result, MAX_VALUE_DEPTH):
        msg = f"{what} is nested deeper than {MAX_VALUE_DEPTH} levels, more than a history holds."
        raise CodecError(msg)
    return result


#: Compact, key-sorted JSON text for an already-JSON value (one C encoder, built once).
dumps: Final = _rowcodec.dumps


def loads(text: str) -> Any:
    """Parse JSON text (orjson when it accepts the text, else the stdlib)."""
    return _rowcodec.loads(text)


def from_jsonable(value: Any, type_: Any, what: str | Callable[[], str] = "payload") -> Any:
    """Structure a JSON value into ``type_`` or raise `CodecError` saying what.

    ``Any`` (or a missing annotation) returns the JSON value unchanged.
    ``what`` may be a function, called only to word an error.
    """
    quick = quick_structure(value, type_)
    if quick is not NOT_QUICK:
        return quick
    if callable(what):
        what = what()
    conv, errors = _built()
    try:
        return conv.structure(value, type_)
    except errors as exc:
        detail = _validation_detail(exc)
        name = getattr(type_, "__name__", repr(type_))
        msg = f"{what} does not decode into {name}: {detail}."
        raise CodecError(msg) from None


def digest(*parts: Any) -> str:
    """A short, stable digest of JSON values (used to match commands on replay)."""
    text = dumps(parts)  # a tuple encodes exactly as the list it was
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


_CALL_PREFIX: dict[str, Any] = {}


def digest_call(activity: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """``digest("activity", activity, args, kwargs)``, faster: the call's hot path.

    The canonical text of that 4-tuple is its parts joined by commas in brackets,
    so the constant prefix is hashed once per activity name (each call hashes
    on from a copy of that state), an empty ``kwargs`` is a literal, and a
    single plain ``int`` argument is written by hand: JSON writes an int as
    its ``repr``. Same text, same digest.
    """
    state = _CALL_PREFIX.get(activity)
    if state is None:
        if len(_CALL_PREFIX) > 4096:
            _CALL_PREFIX.clear()
        prefix = '["activity",' + dumps(activity) + ","
        state = _CALL_PREFIX[activity] = hashlib.blake2b(prefix.encode(), digest_size=8)
    one_int = len(args) == 1 and type(args[0]) is int
    text = "[" + repr(args[0]) + "]" if one_int else dumps(args)
    text += ("," + dumps(kwargs) + "]") if kwargs else ",{}]"
    hashed = state.copy()
    hashed.update(text.encode())
    return hashed.hexdigest()


# --- events ---------------------------------------------------------------------

#: Fields stored in their own columns; the rest of an event goes into ``payload``.
ENVELOPE: Final = _rowcodec.ENVELOPE


def event_to_dict(event: Event) -> dict[str, Any]:
    """An event as a JSON-ready dict with its ``kind`` (the fixture format)."""
    data: dict[str, Any] = converter().unstructure(event)
    data["kind"] = kind_of(event)
    return data


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from `event_to_dict` output, raising `HistoryError` if malformed."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    cls = EVENT_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        msg = f"unknown event kind {kind!r} at seq {fields.get('seq', '?')}."
        raise HistoryError(msg)
    try:  # what our encoder wrote takes the prebuilt plan (no cattrs)
        return _rowcodec.decode_dict(kind, fields)
    except Exception:  # Slow, or bad data: the converter words the error
        pass
    conv, errors = _built()
    errors = (*errors, ArithmeticError)
    try:
        return conv.structure(fields, cls)
    except errors as exc:
        detail = _validation_detail(exc)
        msg = f"malformed {kind} event at seq {fields.get('seq', '?')}: {detail}."
        raise HistoryError(msg) from None
    except RecursionError:
        msg = f"malformed {kind} event at seq {fields.get('seq', '?')}: nested too deeply."
        raise HistoryError(msg) from None


def event_payload(event: Event) -> str:
    """The JSON text of the event's non-envelope fields (the ``payload`` column).

    A prebuilt per-kind plan does this without cattrs; values only the
    converter can handle fall back to it, with the same text as the result.
    """
    try:
        return _rowcodec.payload(event)
    except _rowcodec.Slow:
        pass
    data = converter().unstructure(event)
    for key in ENVELOPE:
        data.pop(key, None)
    return dumps(data)


def event_from_row(
    kind: str,
    seq: int,
    run_id: str,
    recorded_at: datetime,
    ordinal: int | None,
    name: str | None,
    payload: str | None,
    source: str | None,
    digest_: str | None,
) -> Event:
    """Rebuild an event from a store row, raising `HistoryError` if it does not decode.

    Rows our encoder wrote take the prebuilt per-kind plan (no cattrs); any
    other row goes through the converter, which yields the same event or
    names what is wrong.
    """
    try:
        return _rowcodec.decode(
            kind, seq, run_id, recorded_at, ordinal, name, payload, source, digest_
        )
    except _rowcodec.Slow:
        pass
    except ValueError as exc:
        msg = f"the payload of {kind} event at seq {seq} is not valid JSON ({exc})."
        raise HistoryError(msg) from None
    try:
        fields = loads(payload) if payload else {}
    except ValueError as exc:
        msg = f"the payload of {kind} event at seq {seq} is not valid JSON ({exc})."
        raise HistoryError(msg) from None
    if type(fields) is not dict:
        msg = f"the payload of {kind} event at seq {seq} is not a JSON object."
        raise HistoryError(msg)
    fields["seq"] = seq
    fields["run_id"] = run_id
    fields["recorded_at"] = recorded_at
    if ordinal is not None:
        fields["ordinal"] = ordinal
    if name is not None:
        fields["name"] = name
    if source is not None:
        fields["source"] = source
    if digest_ is not None:
        fields["digest"] = digest_
    fields["kind"] = kind
    return event_from_dict(fields)


def error_info(exc: BaseException, tb: str = "") -> ErrorInfo:
    """Describe an exception for history: qualified type name, message, traceback text."""
    cls = type(exc)
    module = cls.__module__
    if module in ("builtins", "__main__"):
        type_name = cls.__qualname__
    elif module.startswith("aion._"):
        type_name = f"aion.{cls.__qualname__}"  # the public name, not the private module
    else:
        type_name = f"{module}.{cls.__qualname__}"
    return ErrorInfo(type=type_name, message=str(exc), traceback=tb)
