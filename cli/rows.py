"""Flat rows for ``--format csv``: one header, one row per record, values as plain text.

A spreadsheet or ``cut``/``awk`` wants one line per thing and no nesting, so
nested values (payloads, pending commands) are written as compact JSON in one cell.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import aion
from aion import codec as _codec
from aion.events import Event
from aion.store import WorkflowInfo

from .safe import clean
from .when import fmt_time

WORKFLOW_HEADER = (
    "workflow_id",
    "workflow_type",
    "status",
    "started_at",
    "closed_at",
    "events",
    "runs",
    "run_id",
    "parent_id",
)
EVENT_HEADER = ("seq", "run_id", "recorded_at", "kind", "ordinal", "name", "payload")
#: What goes in an event's own columns; the rest of it is the payload cell.
_EVENT_COLUMNS = frozenset(("seq", "run_id", "recorded_at", "kind", "ordinal", "name"))


def cell(value: Any) -> str:
    """One CSV cell: text as is, times in ISO 8601, anything nested as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def workflow_rows(infos: Iterable[WorkflowInfo]) -> Iterable[Sequence[str]]:
    """``aion list``: one row per workflow, in `WORKFLOW_HEADER` order."""
    for i in infos:
        yield [
            cell(v)
            for v in (
                i.workflow_id,
                i.workflow_type,
                i.status,
                i.started_at,
                i.closed_at,
                i.last_seq,
                i.runs,
                i.run_id,
                i.parent_id,
            )
        ]


def event_rows(events: Iterable[Event]) -> Iterable[Sequence[str]]:
    """``aion inspect``: one row per event, in `EVENT_HEADER` order."""
    for event in events:
        data = _codec.event_to_dict(event)
        payload = {k: v for k, v in data.items() if k not in _EVENT_COLUMNS}
        yield [cell(data.get(k)) for k in EVENT_HEADER[:-1]] + [cell(payload)]


def description_rows(desc: aion.WorkflowDescription) -> Iterable[Sequence[str]]:
    """``aion describe``: one ``field,value`` row per field."""
    data: dict[str, Any] = _codec.CONVERTER.unstructure(desc)
    for key, value in data.items():
        yield [key, cell(value)]


def workflow_cells(infos: Sequence[WorkflowInfo]) -> tuple[list[str], list[list[str]], set[int]]:
    """``aion list`` as plain cells: headers, rows (cleaned), right-justified columns."""
    several_runs = any(info.runs > 1 for info in infos)
    headers = ["id", "type", "status", "started (UTC)", "closed (UTC)", "events"]
    headers += ["runs"] if several_runs else []
    rows = [
        [
            clean(info.workflow_id),
            clean(info.workflow_type),
            info.status,
            fmt_time(info.started_at, millis=False),
            fmt_time(info.closed_at, millis=False),
            str(info.last_seq),
            *([str(info.runs)] if several_runs else []),
        ]
        for info in infos
    ]
    return headers, rows, {5, 6}
