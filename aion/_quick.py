"""Decoding the common result annotations without the converter (cattrs).

A replayed or live step hands the workflow its activity's result structured
into the annotated return type. For the annotations most results have (a JSON
scalar, a plain ``dict`` or ``list``, ``Any``, a flat dataclass or attrs record
of scalars) that is a type check and, for a record, one call of the class,
which is what cattrs does then: doing it here costs a tenth as much and keeps
cattrs unimported on those paths. Anything else answers `NOT_QUICK` and the
converter decides (`aion._codec.from_jsonable`), so the two never disagree.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any, Final

import attrs

_JSON_SCALARS: Final = (str, int, float, bool, type(None))


#: Annotations whose JSON value needs no converter when it already has the right type.
_SHALLOW: Final[dict[Any, type]] = {
    str: str,
    int: int,
    float: float,
    bool: bool,
    dict: dict,
    list: list,
    dict[str, Any]: dict,
    list[Any]: list,
}


#: What `quick_structure` answers when only the converter can decide.
NOT_QUICK: Final = object()
_SHAPES: dict[int, tuple[Any, Any]] = {}
_FIELD_SCALARS: Final = (str, int, float, bool)


class _Record:
    """How to build a flat record class (every field a JSON scalar) without the converter.

    Only when the JSON object has exactly the fields, each of exactly its
    annotated type, is the class called with them, which is what cattrs does
    then; anything else (a missing or extra key, an int for a float, a bool
    for an int) is left to the converter, so the two never disagree.
    """

    __slots__ = ("cls", "fields")

    def __init__(self, cls: type, fields: tuple[tuple[str, type], ...]) -> None:
        self.cls = cls
        self.fields = fields

    def build(self, value: Any) -> Any:
        if type(value) is not dict or len(value) != len(self.fields):
            return NOT_QUICK
        for name, kind in self.fields:
            if type(value.get(name)) is not kind:
                return NOT_QUICK
        return self.cls(**value)


def _record_plan(type_: Any) -> _Record | None:
    """A `_Record` for a dataclass or attrs class whose fields are all JSON scalars, else None."""
    if not isinstance(type_, type):
        return None
    if dataclasses.is_dataclass(type_):
        fields = dataclasses.fields(type_)
        if not all(f.init for f in fields):
            return None
        names = [f.name for f in fields]
    elif attrs.has(type_):
        attributes = attrs.fields(type_)
        if not all(a.init and a.alias == a.name for a in attributes):
            return None
        names = [a.name for a in attributes]
    else:
        return None
    try:
        hints = typing.get_type_hints(type_)
    except Exception:  # an annotation that does not resolve: the converter decides
        return None
    kinds = [hints.get(name) for name in names]
    if not names or not all(k in _FIELD_SCALARS for k in kinds):
        return None
    return _Record(type_, tuple((n, k) for n, k in zip(names, kinds, strict=True) if k))


def quick_structure(value: Any, type_: Any) -> Any:
    """`from_jsonable` for the common annotations without the converter, else `NOT_QUICK`.

    The result is what cattrs builds (a scalar as is, a container as a fresh
    shallow copy), at a tenth of the cost. Shapes are memoised by the
    annotation's identity: hashing a generic alias like ``dict[str, Any]``
    costs more than the rest.
    """
    if type_ is Any or type_ is None or type_ is type(None):
        return value
    entry = _SHAPES.get(id(type_))
    if entry is None or entry[0] is not type_:
        if len(_SHAPES) > 4096:
            _SHAPES.clear()
        try:
            shape: Any = _SHALLOW.get(type_)
        except TypeError:  # an unhashable annotation
            shape = None
        if shape is None:
            shape = _record_plan(type_)
        entry = _SHAPES[id(type_)] = (type_, shape)
    shape = entry[1]
    if shape is None:
        return NOT_QUICK
    if type(shape) is _Record:
        return shape.build(value)
    if type(value) is shape:
        return value if shape in _JSON_SCALARS else shape(value)
    return NOT_QUICK


def _unchanged(value: Any) -> Any:
    return value


def _never(value: Any) -> Any:
    return NOT_QUICK


def _decoder_of(type_: Any) -> Callable[[Any], Any]:
    if type_ is Any or type_ is None or type_ is type(None):
        return _unchanged
    try:
        shape: Any = _SHALLOW.get(type_)
    except TypeError:  # an unhashable annotation
        shape = None
    if shape is None:
        record = _record_plan(type_)
        return _never if record is None else record.build
    if shape in _JSON_SCALARS:

        def scalar(value: Any, kind: type = shape) -> Any:
            return value if type(value) is kind else NOT_QUICK

        return scalar

    def container(value: Any, kind: type = shape) -> Any:
        return kind(value) if type(value) is kind else NOT_QUICK

    return container


_DECODERS: dict[int, tuple[Any, Callable[[Any], Any]]] = {}


def quick_decoder(type_: Any) -> Callable[[Any], Any]:
    """`quick_structure` for one annotation, as a function: looked up once, called per value.

    ``quick_decoder(t)(value)`` answers exactly what ``quick_structure(value, t)``
    does (the same shapes, the same `NOT_QUICK`); the interpreter looks it up when
    it issues a call and applies it when the result arrives, so the per-value
    work is the check and the build alone.
    """
    entry = _DECODERS.get(id(type_))
    if entry is None or entry[0] is not type_:
        if len(_DECODERS) > 4096:
            _DECODERS.clear()
        entry = _DECODERS[id(type_)] = (type_, _decoder_of(type_))
    return entry[1]
