"""Store rows to events, where a row that does not decode damages one workflow only.

A history file may have been written by another program (or damaged), so any
row can hold anything its column types allow: a payload of the wrong shape,
nested ten thousand deep, NaN, an ``infinity`` timestamp, a timer time that
is not a time. Each such row becomes a `DamagedHistoryError` (a
`StoreCorruptedError`) naming the workflow and the seq; bulk reads record it
and go on with the other workflows, so one bad row never stops a store from
opening or the other workflows from running.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aion import _codec, _rowcodec
from aion._errors import AionError, StoreCorruptedError
from aion._events import Event

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: What decoding a hostile row can raise (besides aion's own typed errors).
DECODE_ERRORS: Final = (AionError, ValueError, TypeError, OverflowError, RecursionError, KeyError)


class DamagedHistoryError(StoreCorruptedError):
    """One row of a workflow's history does not decode: that workflow is unreadable.

    Attributes:
        workflow_id: The workflow whose history holds the row.
        seq: The row's seq.
        kind: The event kind the row claims.
        detail: What is wrong with it.
    """

    def __init__(self, path: str, workflow_id: str, seq: Any, kind: Any, detail: str) -> None:
        self.workflow_id = workflow_id
        self.seq = seq
        self.kind = str(kind)[:40]
        self.detail = detail
        msg = (
            f"the history of workflow {workflow_id!r} in {path!r} is damaged at seq {seq} "
            f"({self.kind}): {detail}"
        )
        super().__init__(msg)


def describe(exc: BaseException) -> str:
    """One line saying what is wrong with a row, from the error decoding it raised."""
    if isinstance(exc, RecursionError):
        return "its payload is nested too deeply."
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if len(text) > 200:
        text = text[:200] + "..."
    return text if text.endswith(".") else text + "."


class _Times(dict[int, datetime]):
    """Epoch microseconds -> aware UTC datetime, memoised for one read.

    Events committed in one batch share their timestamp, so most rows of a
    read hit the memo instead of building a datetime.
    """

    def __missing__(self, micros: int) -> datetime:
        if type(micros) is not int:  # NULL: DuckDB's epoch_us of 'infinity'
            msg = "its recorded_at is not a finite time."
            raise ValueError(msg)
        try:
            value = self[micros] = EPOCH + timedelta(0, 0, micros)  # (microseconds=) binds slower
        except OverflowError:
            msg = "its recorded_at is outside the years 1-9999."
            raise ValueError(msg) from None
        return value


def decode_rows(
    rows: Iterable[tuple[Any, ...]], path: str, damaged: dict[str, DamagedHistoryError] | None
) -> Iterator[tuple[str, Event]]:
    """``(workflow_id, event)`` for rows of ``SELECT workflow_id, <columns>``, in order.

    Args:
        rows: Rows ordered by workflow then seq.
        path: The store, for error messages.
        damaged: Where to record the workflows whose rows do not decode; their
            later rows are skipped and the read goes on. With None, the first
            such row raises `DamagedHistoryError`. Events of a damaged workflow
            yielded before its bad row are the caller's to drop.

    The cyclic garbage collector is paused meanwhile: decoding allocates only
    acyclic objects that all stay alive, yet each allocation burst triggers
    collections that rescan them (about a third of the decode time).
    """
    times = _Times()
    quick, slow = _rowcodec.quick, _rowcodec.Slow
    decode = _codec.event_from_row
    paused = gc.isenabled()
    if paused:
        gc.disable()
    remaining = iter(rows)
    skip: str | None = None
    workflow_id: str = ""
    kind: Any = None
    seq: Any = None
    try:
        while True:
            try:
                for (
                    workflow_id,
                    kind,
                    seq,
                    run_id,
                    micros,
                    ordinal,
                    name,
                    payload,
                    source,
                    digest,
                ) in remaining:
                    if workflow_id == skip:
                        continue
                    at = times[micros]
                    try:
                        event = quick(kind, seq, run_id, at, ordinal, name, payload, source, digest)
                    except slow:  # not as our encoder writes it: the full decoder decides
                        event = decode(
                            kind, seq, run_id, at, ordinal, name, payload, source, digest
                        )
                    yield workflow_id, event
                return
            except DECODE_ERRORS as exc:
                error = DamagedHistoryError(path, workflow_id, seq, kind, describe(exc))
                if damaged is None:
                    raise error from None
                damaged.setdefault(workflow_id, error)
                skip = workflow_id
    finally:
        if paused:
            gc.enable()


def in_seq_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One workflow's rows (``seq`` second) sorted by seq, as ``ORDER BY seq`` returns them.

    DuckDB returns a scan in insertion order, which is seq order for every history
    aion appended, so the check is all this costs (asking DuckDB to sort 20,000
    rows costs more than the rest of the query); a file written otherwise is sorted here.
    """
    seqs = [row[1] for row in rows]
    if all(map(operator.le, seqs, seqs[1:])):
        return rows
    return sorted(rows, key=operator.itemgetter(1))


def decode_history(rows: Iterable[tuple[Any, ...]], path: str, workflow_id: str) -> list[Event]:
    """The events of one workflow's rows (``SELECT <columns>``, in seq order).

    `decode_rows` for a single history: the same decoders and errors, without
    the workflow column or a generator between the rows and the list.

    Raises:
        DamagedHistoryError: A row does not decode (the first such row).
    """
    times = _Times()
    quick, slow = _rowcodec.quick, _rowcodec.Slow
    decode = _codec.event_from_row
    events: list[Event] = []
    append = events.append
    kind: Any = None
    seq: Any = None
    paused = gc.isenabled()
    if paused:
        gc.disable()  # see decode_rows
    try:
        for kind, seq, run_id, micros, ordinal, name, payload, source, digest in rows:
            at = times[micros]
            try:
                append(quick(kind, seq, run_id, at, ordinal, name, payload, source, digest))
            except slow:  # not as our encoder writes it: the full decoder decides
                append(decode(kind, seq, run_id, at, ordinal, name, payload, source, digest))
    except DECODE_ERRORS as exc:
        raise DamagedHistoryError(path, workflow_id, seq, kind, describe(exc)) from None
    finally:
        if paused:
            gc.enable()
    return events


def timer_time(kind: str, payload: str | None) -> datetime | None:
    """When a pending timer is due, from its event's payload text (None: no retry pending)."""
    fields = _codec.loads(payload) if payload else {}
    if type(fields) is not dict:
        msg = "its payload is not a JSON object."
        raise ValueError(msg)
    text = fields.get("retry_at" if kind == "ActivityFailed" else "fire_at")
    if text is None and kind == "ActivityFailed":
        return None
    if type(text) is not str:
        msg = f"its timer time {text!r:.60} is not a time."
        raise ValueError(msg)
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
