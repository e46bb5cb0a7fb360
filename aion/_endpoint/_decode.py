"""Values as a worker's endpoint sends them, read back into aion's types.

The worker answers ``list`` with unstructured `WorkflowInfo` records and
``describe`` with an unstructured `WorkflowDescription`; both clients (the
library's and the CLI's) read them here, the one way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aion import _codec
from aion.store import TimerInfo, WorkflowInfo


def workflow_infos(raw: list[Any]) -> list[WorkflowInfo]:
    """Visibility records, as the worker sent them for ``list``."""
    return [_codec.CONVERTER.structure(item, WorkflowInfo) for item in raw]


def description_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a `WorkflowDescription`, from the worker's ``describe``."""
    out = dict(raw)
    out["timers"] = tuple(_codec.CONVERTER.structure(t, TimerInfo) for t in out.get("timers", ()))
    out["pending"] = tuple(out.get("pending", ()))
    for key in ("started_at", "closed_at"):
        if out.get(key) is not None:
            out[key] = _codec.CONVERTER.structure(out[key], datetime)
    return out
