"""The JSON codec aion records values with, for tools that read or write histories.

Values (workflow input, activity arguments and results, signal payloads) are
stored as JSON; `to_jsonable` / `from_jsonable` convert them the way the
engine does, with the same `aion.CodecError` messages. `event_to_dict` /
`event_from_dict` are the fixture form of an event (with its ``kind``).
`CONVERTER` is the one cattrs converter everything goes through: use it to
structure or unstructure aion's records (`aion.store.WorkflowInfo`,
`aion.WorkflowDescription`, ...), and do not register hooks on it, since the
stored format depends on it. `MAX_VALUE_DEPTH` is the deepest nesting of
lists and dicts a recorded value may have (deeper is a `CodecError`: the
reader refuses such payloads as hostile).
"""

from typing import TYPE_CHECKING, Any

from aion._codec import MAX_VALUE_DEPTH as MAX_VALUE_DEPTH
from aion._codec import event_from_dict as event_from_dict
from aion._codec import event_to_dict as event_to_dict
from aion._codec import from_jsonable as from_jsonable
from aion._codec import to_jsonable as to_jsonable

if TYPE_CHECKING:
    from aion._codec import CONVERTER as CONVERTER

__all__ = [
    "CONVERTER",
    "MAX_VALUE_DEPTH",
    "event_from_dict",
    "event_to_dict",
    "from_jsonable",
    "to_jsonable",
]


def __getattr__(name: str) -> Any:
    """``CONVERTER``, built (and cattrs imported) on first use."""
    if name == "CONVERTER":
        from aion._codec import converter

        return converter()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
