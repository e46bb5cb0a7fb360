"""Flat record results (dataclasses, attrs classes of JSON scalars) decode without cattrs.

`quick_structure` builds such a record itself only when the JSON object has
exactly its fields, each of exactly its annotated type; everything else goes
to the converter. The property: whenever the quick path answers, it answers
what the converter would, for any JSON object thrown at it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from aion import _codec


@dataclasses.dataclass(frozen=True)
class Receipt:
    order: str
    cents: int
    paid: bool
    rate: float


@attrs.frozen
class Shipment:
    order: str
    boxes: int


@attrs.define
class Private:
    _secret: str  # alias "secret": cattrs maps it, the quick path must not


@dataclasses.dataclass
class Nested:
    receipt: Receipt  # not flat: always the converter


scalars = st.one_of(
    st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.floats(-5, 5), st.none()
)
keys = st.sampled_from(["order", "cents", "paid", "rate", "boxes", "secret", "other"])
objects = st.dictionaries(keys, scalars, max_size=6)


@given(objects, st.sampled_from([Receipt, Shipment, Private, Nested]))
def test_the_quick_path_answers_only_what_the_converter_would(
    value: dict[str, Any], cls: type
) -> None:
    quick = _codec.quick_structure(value, cls)
    if quick is _codec.NOT_QUICK:
        return
    assert cls in (Receipt, Shipment)
    assert quick == _codec.converter().structure(value, cls)  # cattrs itself, not the quick path
    assert type(quick) is cls


def test_an_exact_object_takes_the_quick_path() -> None:
    value = {"order": "o-1", "cents": 5, "paid": True, "rate": 0.5}
    assert _codec.quick_structure(value, Receipt) == Receipt("o-1", 5, True, 0.5)
    assert _codec.quick_structure({"order": "o", "boxes": 2}, Shipment) == Shipment("o", 2)
    # Not exact: the converter decides (an int where a float is annotated, a missing key).
    assert _codec.quick_structure({**value, "rate": 1}, Receipt) is _codec.NOT_QUICK
    assert _codec.quick_structure({"order": "o"}, Shipment) is _codec.NOT_QUICK
    assert _codec.quick_structure({"secret": "s"}, Private) is _codec.NOT_QUICK


annotations = st.sampled_from(
    [
        *(Receipt, Shipment, Private, Nested, int, str, float, bool, dict, list),
        *(dict[str, Any], list[Any], Any, None, type(None), list[int], tuple[int, str]),
    ]
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3)
)


@given(st.one_of(objects, json_values), annotations)
def test_the_decoder_a_call_keeps_answers_what_quick_structure_does(
    value: Any, annotation: Any
) -> None:
    # The interpreter looks `quick_decoder` up when it issues a call and applies it to the
    # result: it must agree with `quick_structure` on every value, NOT_QUICK included.
    expected = _codec.quick_structure(value, annotation)
    got = _codec.quick_decoder(annotation)(value)
    if expected is _codec.NOT_QUICK:
        assert got is _codec.NOT_QUICK
    else:
        assert got == expected and type(got) is type(expected)
        if isinstance(value, dict | list):
            assert got is not value or annotation in (Any, None, type(None))
