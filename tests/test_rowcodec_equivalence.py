"""The fast row codec is the cattrs path, only faster: same payload text, same events.

`aion._rowcodec` promises that its prebuilt per-kind plans never differ from
the cattrs converter they short-cut (anything they cannot do exactly raises
`Slow` and takes the converter). These properties hold that promise over
generated events of every kind: encoding gives the same ``payload`` text as
the converter, and decoding a row gives the same event as the converter,
which is the event that was written.
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from types import NoneType, UnionType
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from aion import _codec, _rowcodec
from aion._events import EVENT_TYPES, ErrorInfo, Event, Origin

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_times = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC)
    | st.builds(timezone, st.sampled_from([timedelta(hours=2), -timedelta(minutes=90)])),
)
_errors = st.builds(
    ErrorInfo,
    type=st.text(max_size=12),
    message=st.text(max_size=12),
    traceback=st.text(max_size=12),
)


def _for(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for one field's declared type, as the engine would fill it."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, UnionType):
        members = [a for a in typing.get_args(annotation) if a is not NoneType]
        strategy = st.one_of([_for(a) for a in members])
        return st.none() | strategy if NoneType in typing.get_args(annotation) else strategy
    if annotation is str:
        return st.text(max_size=10)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(0, 2**31)
    if annotation is float:
        return st.floats(0, 1e6, allow_nan=False)
    if annotation is datetime:
        return _times
    if annotation is ErrorInfo:
        return _errors
    if annotation is Origin:
        return st.builds(
            Origin,
            workflow_id=st.text(max_size=6),
            run_id=st.text(max_size=6),
            seq=st.integers(1, 99),
            child_prefix=st.text(max_size=6),
            last_ordinal=st.integers(0, 99),
        )
    if origin is list or annotation is list:
        return st.lists(_json, max_size=3)
    if origin is dict or annotation is dict:
        return st.dictionaries(st.text(max_size=4), _json, max_size=3)
    return _json  # Any: a JSON value


def _event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _for(hints[f.name]) for f in attrs.fields(cls)}
    return st.builds(cls, **fields)


events = st.one_of([_event_strategy(cls) for cls in EVENT_TYPES])


def _slow_payload(event: Event) -> str:
    with mock.patch.object(_rowcodec, "payload", side_effect=_rowcodec.Slow):
        return _codec.event_payload(event)


def _row(event: Event, payload: str) -> tuple[Any, ...]:
    return (
        type(event).__name__,
        event.seq,
        event.run_id,
        event.recorded_at,
        getattr(event, "ordinal", None),
        getattr(event, "name", None),
        payload,
        getattr(event, "source", None),
        getattr(event, "digest", None),
    )


def _slow_decode(row: tuple[Any, ...]) -> Event:
    with mock.patch.object(_rowcodec, "decode", side_effect=_rowcodec.Slow):
        return _codec.event_from_row(*row)


# Every kind, with optional fields, nested JSON and non-UTC times: more than the default.
WIDE = settings(max_examples=400)


@WIDE
@given(events)
def test_the_fast_payload_is_the_converters_text(event: Event) -> None:
    slow = _slow_payload(event)
    try:
        fast = _rowcodec.payload(event)
    except _rowcodec.Slow:
        note("the fast path declined (it hands such values to the converter)")
        return
    assert fast == slow


@WIDE
@given(events)
def test_a_row_decodes_to_the_same_event_on_both_paths(event: Event) -> None:
    row = _row(event, _slow_payload(event))
    slow = _slow_decode(row)
    assert slow == event  # what was written reads back
    try:
        fast = _rowcodec.decode(*row)
    except _rowcodec.Slow:
        note("the fast path declined (it hands such rows to the converter)")
        return
    assert fast == slow
    assert [type(getattr(fast, f.name)) for f in attrs.fields(type(fast))] == [
        type(getattr(slow, f.name)) for f in attrs.fields(type(slow))
    ]


@WIDE
@given(events)
def test_the_direct_build_is_the_keyword_path(event: Event) -> None:
    # `quick` sets slots itself instead of calling the class: it must build the same,
    # frozen event, and decline (never guess) where the keyword path would decide.
    row = _row(event, _slow_payload(event))
    slow = _slow_decode(row)
    try:
        fast = _rowcodec.quick(*row)
    except _rowcodec.Slow:
        note("the direct build declined")
        assert event.recorded_at.tzinfo is not UTC or any(
            type(getattr(event, f.name)) not in (str, int, float, bool, list, dict, type(None))
            for f in attrs.fields(type(event))
            if f.name not in ("recorded_at", "error", "fire_at", "retry_at")
        ), "an event our encoder wrote in UTC, of plain values, should take the direct build"
        return
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert [type(getattr(fast, f.name)) for f in attrs.fields(type(fast))] == [
        type(getattr(slow, f.name)) for f in attrs.fields(type(slow))
    ]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.seq = 0  # type: ignore[misc]


@pytest.mark.parametrize(
    "change",
    [
        lambda fields: fields.pop("attempt"),  # a field missing: the keyword path names it
        lambda fields: fields.update(extra=1),  # an unknown field: cattrs ignores it
        lambda fields: fields.update(attempt="1"),  # a number as text: cattrs decides
    ],
)
def test_the_direct_build_declines_a_payload_it_cannot_vouch_for(change: Any) -> None:
    fields: dict[str, Any] = {"attempt": 1, "result": None}
    change(fields)
    row = ("ActivityCompleted", 3, "r", datetime(2026, 1, 1, tzinfo=UTC), 1, None, None, None)
    with pytest.raises(_rowcodec.Slow):
        _rowcodec.quick(*row[:6], _rowcodec.dumps(fields), *row[6:])


def test_the_direct_build_declines_an_envelope_column_the_kind_lacks() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    payload = '{"attempt":1,"result":null}'
    assert _rowcodec.quick("ActivityCompleted", 3, "r", at, 1, None, payload, None, None)
    with pytest.raises(_rowcodec.Slow):  # a name column on a kind without a name
        _rowcodec.quick("ActivityCompleted", 3, "r", at, 1, "x", payload, None, None)
    with pytest.raises(_rowcodec.Slow):  # a NULL ordinal on a kind that has one
        _rowcodec.quick("ActivityCompleted", 3, "r", at, None, None, payload, None, None)


def test_every_event_kind_has_a_fast_plan() -> None:
    # Otherwise the properties above would compare the converter with itself.
    assert {plan.cls for plan in _rowcodec.PLANS.values()} == set(EVENT_TYPES)


def _slow_from_dict(data: dict[str, Any]) -> Event:
    with mock.patch.object(_rowcodec, "decode_dict", side_effect=_rowcodec.Slow):
        return _codec.event_from_dict(data)


@WIDE
@given(events)
def test_a_fixture_dict_decodes_to_the_same_event_on_both_paths(event: Event) -> None:
    data = _codec.event_to_dict(event)
    slow = _slow_from_dict(data)
    assert slow == event
    fields = dict(data)
    kind = fields.pop("kind")
    try:
        fast = _rowcodec.decode_dict(kind, fields)
    except _rowcodec.Slow:
        note("the fast path declined (it hands such dicts to the converter)")
        return
    assert fast == slow
    assert [type(getattr(fast, f.name)) for f in attrs.fields(type(fast))] == [
        type(getattr(slow, f.name)) for f in attrs.fields(type(slow))
    ]


@given(events, st.sampled_from(["seq", "run_id", "recorded_at", "ordinal", "name", "digest"]))
def test_a_dict_the_fast_path_cannot_vouch_for_takes_the_converter(event: Event, key: str) -> None:
    # A number given as text (cattrs would coerce it, or name the field): never the fast path.
    data = _codec.event_to_dict(event)
    if key not in data:
        return
    data[key] = str(data[key]) if type(data[key]) is int else 12345
    fields = dict(data)
    kind = fields.pop("kind")
    try:
        _rowcodec.decode_dict(kind, fields)
    except _rowcodec.Slow:
        return
    raise AssertionError(f"the fast path took {key}={data[key]!r}")
