"""The fast path between events and store rows, prebuilt once per event kind.

Replay and recovery decode every row of a history, and the engine encodes
every event it records, so this is the hottest code outside the interpreter.
Going through cattrs costs about 3 µs per event on top of the JSON work; here
each kind gets a precomputed plan instead: which payload fields need a type
check only, which need a conversion (datetimes, `ErrorInfo`), and which go
through as JSON values. The plan accepts exactly the shapes our own encoder
writes. Anything else (a malformed row, a value only cattrs knows how to
coerce or reject) raises `Slow`, and the caller takes the cattrs path, which
either produces the same event or the precise error message. So the fast path
can only ever be faster, never different.
"""

from __future__ import annotations

import json
import json.encoder
import math
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from types import MemberDescriptorType, NoneType, UnionType
from typing import Any, Final

import attrs
import orjson

from aion._events import EVENT_TYPES, ErrorInfo, Event, Origin

#: Fields stored in their own columns; the rest of an event goes into ``payload``.
ENVELOPE: Final = ("seq", "run_id", "recorded_at", "ordinal", "name", "source", "digest")

#: One encoder for all canonical JSON text (building a JSONEncoder per call costs ~1 µs).
ENCODER: Final = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False)

# JSONEncoder.encode builds a C encoder per call; this is that same C encoder, built
# once with ENCODER's settings, so the text is identical (digests depend on it) at a
# third of the cost. Without cycle markers: our values are plain JSON trees, and
# is_plain() would already have recursed without end on a cyclic one.
_C_MAKE_ENCODER: Final = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Final = (
    _C_MAKE_ENCODER(
        None,
        ENCODER.default,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        True,
        False,
        False,
    )
    if _C_MAKE_ENCODER is not None
    else None
)


def dumps(value: Any) -> str:
    """Compact, key-sorted, ASCII JSON text; exactly what ``ENCODER.encode`` returns."""
    if _C_ENCODE is None:  # pragma: no cover - CPython always has the C encoder
        return ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


class Slow(Exception):
    """The fast path does not handle this row or event: take the cattrs path."""


#: Deepest nesting of containers a payload may have. orjson decodes up to 1024
#: levels, but Python code walking such a value (repr, json.dumps, cattrs) hits the
#: recursion limit well before that; this leaves every consumer room.
MAX_DEPTH: Final = 512


def _not_json(constant: str) -> Any:
    msg = f"{constant} is not a JSON value."
    raise ValueError(msg)


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        msg = f"the number {text[:40]} is too large for a float."
        raise ValueError(msg)
    return value


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests containers deeper than ``limit`` (iterative: no recursion)."""
    if type(value) not in (dict, list):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if type(item) is dict else item
        stack.extend((c, depth + 1) for c in children if type(c) in (dict, list))
    return False


def loads(text: str) -> Any:
    """Parse JSON with orjson (~3x the stdlib); defer to the stdlib on what orjson refuses.

    Only JSON comes back: NaN, Infinity and numbers too large for a float are
    refused (the stdlib would accept them, and printing them back is not JSON),
    and so is nesting deeper than `MAX_DEPTH`. Every refusal is a `ValueError`.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        # Integers beyond 64 bits are valid JSON that orjson refuses; json decides.
        try:
            value = json.loads(text, parse_constant=_not_json, parse_float=_finite)
        except RecursionError:
            msg = "the JSON text is nested too deeply."
            raise ValueError(msg) from None
    if (
        type(value) in (dict, list)
        and len(text) > 2 * MAX_DEPTH
        and text.count("[") + text.count("{") > MAX_DEPTH
        and too_deep(value)
    ):
        msg = f"the JSON text is nested deeper than {MAX_DEPTH} levels."
        raise ValueError(msg)
    return value


def _to_datetime(value: Any) -> datetime:
    if type(value) is not str:
        raise Slow
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Slow from None  # cattrs words the error
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _to_error(value: Any) -> ErrorInfo:
    if type(value) is not dict or not all(type(v) is str for v in value.values()):
        raise Slow
    try:
        return ErrorInfo(**value)
    except TypeError:
        raise Slow from None


def _slow(value: Any) -> Any:
    raise Slow


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise Slow  # cattrs raises the CodecError that names the problem
    return value.astimezone(UTC).isoformat()


def _error_dict(value: ErrorInfo) -> dict[str, str]:
    return {"type": value.type, "message": value.message, "traceback": value.traceback}


_CHECKED: Final[dict[Any, tuple[type, ...]]] = {
    str: (str,),
    int: (int,),
    float: (float,),
    bool: (bool,),
}


class Plan:
    """How one event kind maps to a row: payload fields and what each needs."""

    __slots__ = ("absent", "checked", "cls", "converted", "encoded", "envelope", "names", "slots")

    def __init__(self, cls: type[Event]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        #: payload fields that are JSON values of a known type: (name, allowed types)
        self.checked: list[tuple[str, tuple[type, ...]]] = []
        #: payload fields decoded by a function: (name, function)
        self.converted: list[tuple[str, Callable[[Any], Any]]] = []
        #: every payload field with its encoder (None: the value is already JSON)
        self.encoded: list[tuple[str, Callable[[Any], Any] | None]] = []
        self.names = frozenset(f.name for f in attrs.fields(cls))
        for field in attrs.fields(cls):
            if field.name in ENVELOPE:
                continue
            hint = hints[field.name]
            optional = isinstance(hint, UnionType) and NoneType in hint.__args__
            base = next(a for a in hint.__args__ if a is not NoneType) if optional else hint
            origin = typing.get_origin(base)
            if base is Any:
                self.encoded.append((field.name, None))
            elif base in _CHECKED or origin in (list, dict):
                allowed = _CHECKED.get(base, (origin,))
                self.checked.append((field.name, (*allowed, NoneType) if optional else allowed))
                self.encoded.append((field.name, None))
            elif base is datetime:
                self.converted.append(
                    (field.name, _optional(_to_datetime) if optional else _to_datetime)
                )
                self.encoded.append(
                    (field.name, _optional(_datetime_text) if optional else _datetime_text)
                )
            elif base is ErrorInfo:
                self.converted.append((field.name, _optional(_to_error) if optional else _to_error))
                self.encoded.append(
                    (field.name, _optional(_error_dict) if optional else _error_dict)
                )
            elif base is Origin:  # rare (reset and forked runs): cattrs does it exactly
                self.converted.append((field.name, _optional(_slow)))
                self.encoded.append((field.name, _optional(_slow)))
            else:  # pragma: no cover - every event field type is listed above
                msg = f"no fast plan for {cls.__name__}.{field.name}: {hint!r}"
                raise TypeError(msg)
        checks, converts = dict(self.checked), dict(self.converted)
        #: every payload field: (its slot's setter, name, allowed types, converter)
        self.slots: list[tuple[Callable[[Any, Any], None], str, Any, Any]] = [
            (_setter(cls, key), key, checks.get(key), converts.get(key)) for key, _ in self.encoded
        ]
        #: which optional envelope columns (ordinal, name, source, digest) the kind
        #: lacks, so must be NULL; and the setter of each one it has, with its position
        self.absent = tuple(key not in self.names for key in _OPTIONAL_ENVELOPE)
        self.envelope = [
            (_setter(cls, key), position)
            for position, key in enumerate(_OPTIONAL_ENVELOPE)
            if key in self.names
        ]


#: The envelope columns a row may leave NULL (the kind has no such field).
_OPTIONAL_ENVELOPE: Final = ("ordinal", "name", "source", "digest")


def _setter(cls: type, key: str) -> Callable[[Any, Any], None]:
    """The ``__set__`` of the slot holding field ``key`` (what attrs' own ``__init__`` sets)."""
    slot = getattr(cls, key)
    if not isinstance(slot, MemberDescriptorType):  # pragma: no cover - attrs.frozen slots
        msg = f"{cls.__name__}.{key} is not a slot"
        raise TypeError(msg)
    return slot.__set__


def _optional(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def maybe(value: Any) -> Any:
        return None if value is None else fn(value)

    return maybe


PLANS: Final[dict[str, Plan]] = {cls.__name__: Plan(cls) for cls in EVENT_TYPES}
PLANS_BY_TYPE: Final[dict[type[Event], Plan]] = {plan.cls: plan for plan in PLANS.values()}
_MISSING: Final = object()


def _check_and_convert(plan: Plan, fields: dict[str, Any]) -> None:
    """Check the payload fields' JSON types and convert those that need it, in place.

    Raises:
        Slow: A field has a type the plan does not take (the converter decides).
    """
    for key, allowed in plan.checked:
        value = fields.get(key, _MISSING)
        if value is not _MISSING and type(value) not in allowed:
            raise Slow
    for key, convert in plan.converted:
        value = fields.get(key, _MISSING)
        if value is not _MISSING:
            fields[key] = convert(value)


_new: Final = object.__new__
_orjson_loads: Final = orjson.loads
_OrjsonError: Final = orjson.JSONDecodeError
_SET_SEQ: Final = _setter(Event, "seq")
_SET_RUN_ID: Final = _setter(Event, "run_id")
_SET_RECORDED_AT: Final = _setter(Event, "recorded_at")


def quick(
    kind: str,
    seq: int,
    run_id: str,
    recorded_at: datetime,
    ordinal: int | None,
    name: str | None,
    payload: str | None,
    source: str | None,
    digest: str | None,
) -> Event:
    """The event of a row exactly as our encoder writes it, its slots set directly.

    What `decode` returns for such a row, in a third of the time: attrs' generated
    ``__init__`` only sets each slot (the events have no validators, converters
    or post-init), so setting them here skips binding a dozen keyword arguments.
    It takes only rows holding every payload field, with their plain JSON types,
    and exactly the envelope columns the kind has, in UTC; a payload orjson
    parses within `loads`' depth-check threshold. Anything else raises `Slow`
    and `decode` decides, so the two always agree. Nothing is changed on the
    way, so a caller can retry the row on the slow path.
    """
    plan = PLANS.get(kind)
    if plan is None or recorded_at.tzinfo is not UTC:
        raise Slow
    if payload:
        if len(payload) > 2 * MAX_DEPTH:  # long enough to need `loads`' depth check
            raise Slow
        try:
            fields = _orjson_loads(payload)
        except _OrjsonError:
            raise Slow from None
        if type(fields) is not dict:
            raise Slow
    else:
        fields = {}
    if len(fields) != len(plan.slots):
        raise Slow
    event = _new(plan.cls)
    try:
        for set_slot, key, allowed, convert in plan.slots:
            value = fields[key]
            if allowed is not None and type(value) not in allowed:
                raise Slow
            set_slot(event, value if convert is None else convert(value))
    except KeyError:
        raise Slow from None
    if (ordinal is None, name is None, source is None, digest is None) != plan.absent:
        raise Slow  # a column the kind lacks is set, or one it has is NULL
    values = (ordinal, name, source, digest)
    for put, position in plan.envelope:
        put(event, values[position])
    _SET_SEQ(event, seq)
    _SET_RUN_ID(event, run_id)
    _SET_RECORDED_AT(event, recorded_at)
    return event


def decode(
    kind: str,
    seq: int,
    run_id: str,
    recorded_at: datetime,
    ordinal: int | None,
    name: str | None,
    payload: str | None,
    source: str | None,
    digest: str | None,
) -> Event:
    """Build the event of one row, or raise `Slow` (ValueError: the payload is not JSON)."""
    try:
        return quick(kind, seq, run_id, recorded_at, ordinal, name, payload, source, digest)
    except Slow:
        pass
    plan = PLANS.get(kind)
    if plan is None:
        raise Slow
    fields = loads(payload) if payload else {}
    if type(fields) is not dict:
        raise Slow
    _check_and_convert(plan, fields)
    if ordinal is not None:
        fields["ordinal"] = ordinal
    if name is not None:
        fields["name"] = name
    if source is not None:
        fields["source"] = source
    if digest is not None:
        fields["digest"] = digest
    if recorded_at.tzinfo is not UTC:
        recorded_at = _to_datetime(recorded_at.isoformat())
    try:
        return plan.cls(seq=seq, run_id=run_id, recorded_at=recorded_at, **fields)
    except TypeError:  # a missing or unknown field: cattrs ignores extras or names the gap
        raise Slow from None


#: The type each envelope field has in every event that holds it (`recorded_at` aside).
_ENVELOPE_TYPES: Final[dict[str, type]] = {
    "seq": int,
    "run_id": str,
    "ordinal": int,
    "name": str,
    "source": str,
    "digest": str,
}


def decode_dict(kind: str, data: dict[str, Any]) -> Event:
    """Build the event of a fixture dict (`event_to_dict` without ``kind``), or raise `Slow`.

    The dict form of `decode`: the same plan, plus a type check of the
    envelope fields, which a dict (unlike a row's typed columns) may get wrong.
    """
    plan = PLANS.get(kind)
    if plan is None:
        raise Slow
    fields = dict(data)
    _check_and_convert(plan, fields)
    for key, expected in _ENVELOPE_TYPES.items():
        value = fields.get(key, _MISSING)
        if value is not _MISSING and type(value) is not expected:
            raise Slow
    if "recorded_at" in fields:
        fields["recorded_at"] = _to_datetime(fields["recorded_at"])
    try:
        return plan.cls(**fields)
    except TypeError:  # a missing or unknown field: cattrs ignores extras or names the gap
        raise Slow from None


def payload(event: Event) -> str:
    """The ``payload`` column text of an event, or raise `Slow` for values cattrs must handle."""
    plan = PLANS_BY_TYPE.get(type(event))
    if plan is None:
        raise Slow
    data = {}
    for key, encode in plan.encoded:
        value = getattr(event, key)
        data[key] = value if encode is None else encode(value)
    try:
        return dumps(data)
    except (TypeError, ValueError):
        raise Slow from None
