"""Writing a batch's events to DuckDB: one row per event, one transaction per batch.

The row is the ``events`` table's columns in order; which optional columns an
event class fills (ordinal, name, source, digest) is worked out once per class.
A batch of up to `ONE_FLUSH_ROWS` rows commits as a single flush of an
appender kept on the connection (`EventWriter.write`).
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
import duckdb

from aion import _codec
from aion._events import Event
from aion.store._protocol import Append

#: Batches up to this many rows commit as one flush of a kept appender; DuckDB's
#: appender flushes on its own only from 204,800 rows (100 vectors) on.
ONE_FLUSH_ROWS: Final = 100_000


def _absent(event: Event) -> None:
    """A row column the event's kind does not have."""
    return


#: A row's kind and its optional columns' getters, per event class.
_RowPlan = tuple[
    str,
    Callable[[Event], Any],
    Callable[[Event], Any],
    Callable[[Event], Any],
    Callable[[Event], Any],
]
_ROW_PLANS: dict[type[Event], _RowPlan] = {}


def _row_plan(cls: type[Event]) -> _RowPlan:
    """Once per class: which optional columns it has (a missing ``getattr`` raises inside)."""
    getters = [
        operator.attrgetter(column) if hasattr(cls, column) or column in _fields(cls) else _absent
        for column in ("ordinal", "name", "source", "digest")
    ]
    plan: _RowPlan = (cls.__name__, getters[0], getters[1], getters[2], getters[3])
    _ROW_PLANS[cls] = plan
    return plan


def _fields(cls: type[Event]) -> set[str]:
    return {field.name for field in attrs.fields(cls)}


def event_rows(batch: Sequence[Append]) -> list[tuple[Any, ...]]:
    """The ``events`` rows of ``batch``, in order."""
    rows: list[tuple[Any, ...]] = []
    payload = _codec.event_payload
    plans = _ROW_PLANS
    for item in batch:
        workflow_id = item.workflow_id
        for event in item.events:
            plan = plans.get(type(event))
            if plan is None:
                plan = _row_plan(type(event))
            kind, ordinal, name, source, digest = plan
            rows.append(
                (
                    workflow_id,
                    event.seq,
                    event.run_id,
                    kind,
                    ordinal(event),
                    name(event),
                    payload(event),
                    event.recorded_at,
                    source(event),
                    digest(event),
                )
            )
    return rows


class EventWriter:
    """Commits event rows on one connection (the store holds its lock around `write`).

    Args:
        con: The store's connection; a reopened store makes a new writer.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._appender: duckdb.Appender | None = None

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Commit ``rows`` in one transaction: all of them or none.

        Raises:
            duckdb.Error: The commit failed (the store translates it).
        """
        if len(rows) <= ONE_FLUSH_ROWS:
            self._flush_alone(rows)
            return
        con = self._con
        con.execute("BEGIN")
        try:
            appender = con.appender("events")
            appender.append_rows(rows)
            appender.flush()
            con.execute("COMMIT")
        except BaseException:
            # A failed COMMIT has rolled back already; an invalidated instance refuses.
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise

    def _flush_alone(self, rows: list[tuple[Any, ...]]) -> None:
        """Commit ``rows`` as one flush of the kept appender.

        Outside an explicit transaction an appender's flush is a transaction of
        its own, all its rows or none (DuckDB flushes by itself only past
        `ONE_FLUSH_ROWS`, far beyond any batch that takes this path). That
        saves the BEGIN and COMMIT statements and the appender's setup, about
        0.9 of the ~2 ms a small commit cost: the commits that starts, signals
        and short steps make. After a failure the appender's pending rows are
        cleared (never to be flushed later) and it is made afresh next time.
        """
        appender = self._appender
        if appender is None:
            appender = self._appender = self._con.appender("events")
        try:
            appender.append_rows(rows)
            appender.flush()
        except BaseException:
            self._appender = None
            with contextlib.suppress(duckdb.Error):
                appender.clear()
            raise
