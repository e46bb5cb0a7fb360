"""Opening a DuckDB file's index: statuses, heads and pending timers read in bulk.

At open the store decodes only what its in-memory index needs (lifecycle
events, and the last timer-related event of each command), through the same
projection as an append (`status_after`, `TIMER_KINDS`). A row that does not
decode damages its own workflow, never the whole open.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import duckdb

from aion._events import STATUS_AFTER, TIMER_ENDS, TIMER_KINDS, Event, kind_of
from aion.store._index import WorkflowIndex
from aion.store._protocol import TimerInfo, WorkflowInfo
from aion.store._rows import (
    DECODE_ERRORS,
    EPOCH,
    DamagedHistoryError,
    decode_rows,
    describe,
    timer_time,
)

# recorded_at is read as epoch microseconds: DuckDB's TIMESTAMPTZ -> datetime conversion
# costs more than the rest of the row, and a batch shares one timestamp (see _rows._Times).
COLUMNS: Final = "kind, seq, run_id, epoch_us(recorded_at), ordinal, name, payload, source, digest"
LIFECYCLE: Final = tuple(STATUS_AFTER)


def _sql_names(*kinds: str) -> str:
    """Event kind names as an SQL list (they are class names: no quoting to escape)."""
    return ", ".join(f"'{kind}'" for kind in sorted(set(kinds)))


# The payload goes back as text and is parsed in Python: a hostile payload that
# DuckDB's JSON functions choke on must damage its own workflow, not the whole open.
TIMER_SQL: Final = f"""
    WITH last AS (
        SELECT workflow_id, run_id, ordinal,
               arg_max(kind, seq) AS kind,
               arg_max(payload, seq) AS payload,
               max(seq) AS seq
        FROM events
        WHERE ordinal IS NOT NULL AND kind IN ({_sql_names(*TIMER_KINDS, *TIMER_ENDS)})
        GROUP BY ALL
    )
    SELECT workflow_id, run_id, ordinal, kind, CAST(payload AS VARCHAR), seq
    FROM last
    WHERE kind IN ({_sql_names(*TIMER_KINDS)})
"""


def load_index(
    con: duckdb.DuckDBPyConnection, path: str, index: WorkflowIndex
) -> dict[str, DamagedHistoryError]:
    """Fill ``index`` from the file: statuses, heads, pending timers.

    Only lifecycle events are decoded (the status projection needs no more),
    plus the last timer-related event of each command. Returns the workflows
    whose rows do not decode, for the caller to mark damaged.
    """
    placeholders = ", ".join("?" for _ in LIFECYCLE)
    rows = con.execute(
        f"SELECT workflow_id, {COLUMNS} FROM events WHERE kind IN ({placeholders}) "
        "ORDER BY workflow_id, seq",
        list(LIFECYCLE),
    ).fetchall()
    damaged: dict[str, DamagedHistoryError] = {}
    current: str | None = None
    batch: list[Event] = []
    for workflow_id, event in decode_rows(rows, path, damaged):
        if workflow_id != current:
            if current is not None and current not in damaged:
                index.observe(current, batch)
            current, batch = workflow_id, []
        batch.append(event)
    if current is not None and current not in damaged:
        index.observe(current, batch)
    for workflow_id, last_seq in con.execute(
        "SELECT workflow_id, max(seq) FROM events GROUP BY workflow_id"
    ).fetchall():
        index.set_head(workflow_id, last_seq)
    for workflow_id, run_id, ordinal, kind, payload, seq in con.execute(TIMER_SQL).fetchall():
        info = index.info(workflow_id)
        if info is None or info.run_id != run_id or info.status not in ("running", "stalled"):
            continue
        try:
            fire_at = timer_time(kind, payload)
        except DECODE_ERRORS as exc:
            damaged.setdefault(
                workflow_id,
                DamagedHistoryError(path, workflow_id, seq, kind, describe(exc)),
            )
            continue
        if fire_at is not None:
            index.add_timer(
                TimerInfo(
                    workflow_id=workflow_id,
                    run_id=run_id,
                    ordinal=ordinal,
                    fire_at=fire_at,
                    kind=TIMER_KINDS[kind],
                )
            )
    return damaged


def may_hold_damaged_timer(workflow_id: str, events: list[Event]) -> bool:
    """Whether `load_index` could find a damaged timer row in this decoded history.

    A read-only store loads its index only when asked for more than histories,
    yet `history` must refuse what that load would have marked damaged. Every
    row of ``events`` decoded, its lifecycle rows among them, so what is left
    is the pending-timer check, which `load_index` makes only for a run the
    status projection leaves running or stalled: for any other history (every
    finished one) there is nothing to find, and no index to load.
    """
    lifecycle = [event for event in events if kind_of(event) in STATUS_AFTER]
    if not lifecycle:
        return False
    index = WorkflowIndex()
    index.observe(workflow_id, lifecycle)
    info = index.info(workflow_id)
    return info is not None and info.status in ("running", "stalled")


def mark_damaged(
    con: duckdb.DuckDBPyConnection,
    index: WorkflowIndex,
    damaged: dict[str, DamagedHistoryError],
) -> None:
    """List workflows whose rows do not decode as stalled (with why), never run."""
    rows = con.execute(
        "SELECT workflow_id, max(seq), arg_min(run_id, seq), arg_min(name, seq), "
        "epoch_us(min(recorded_at)) FROM events "
        "WHERE workflow_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY workflow_id",
        [list(damaged)],
    ).fetchall()
    for workflow_id, last_seq, run_id, name, micros in rows:
        error = damaged[workflow_id]
        try:
            started_at = EPOCH + timedelta(microseconds=micros)
        except (TypeError, OverflowError):
            started_at = EPOCH
        fallback = WorkflowInfo(
            workflow_id=workflow_id,
            run_id=run_id,
            workflow_type=name or "?",
            status="stalled",
            started_at=started_at,
            closed_at=None,
            last_seq=last_seq,
        )
        reason = f"its history is damaged at seq {error.seq} ({error.kind}): {error.detail}"
        index.damage(workflow_id, reason, fallback=fallback)
