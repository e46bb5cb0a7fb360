"""The write half of a PostgreSQL append: lock the rows, check the fence, write rows and timers.

`PostgresStore.append` runs these in one transaction, in this order, after
folding the batch (`_postgres_fold`); kept apart so the store class holds the
connection, the transaction and the reads, and this module the SQL that
writes the projection tables.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from aion import _codec
from aion._errors import FencedError, SequenceConflict
from aion.store import _postgres_leases as leases
from aion.store._postgres_fold import Row, TimerOps
from aion.store._postgres_leases import Fence

#: The epoch of a workflow created by a fenced append (a claim of an unowned one bumps 0 -> 1).
CREATED_EPOCH: Final = 1

Conn = psycopg.Connection[tuple[Any, ...]]


def lock_rows(conn: Conn, schema: str, ids: list[str]) -> dict[str, Row]:
    """Lock and read the batch's workflow rows (``FOR UPDATE``, in id order: no deadlock)."""
    if not ids:
        return {}
    s = schema
    found = conn.execute(
        f"SELECT w.workflow_id, w.run_id, w.workflow_type, w.status, w.started_at, "
        "w.closed_at, w.last_seq, w.parent_id, w.stalled_reason::text, w.runs, w.owner, "
        "w.epoch, coalesce(o.lease_until > clock_timestamp(), false) "
        f"FROM {s}.workflows w LEFT JOIN {s}.sessions o ON o.session_id = w.owner "
        "WHERE w.workflow_id = ANY(%s) ORDER BY w.workflow_id FOR UPDATE OF w",
        [ids],
    ).fetchall()
    rows = {}
    for (
        wid,
        run,
        wtype,
        status,
        started,
        closed,
        seq,
        parent,
        reason,
        runs,
        owner,
        ep,
        live,
    ) in found:
        rows[wid] = Row(
            workflow_id=wid,
            run_id=run,
            workflow_type=wtype,
            status=status,
            started_at=started,
            closed_at=closed,
            last_seq=int(seq),
            parent_id=parent,
            stalled_reason=_codec.loads(reason) if reason is not None else None,
            runs=int(runs),
            owner=owner,
            epoch=int(ep),
            owner_live=bool(live),
        )
    return rows


def check_fence(
    conn: Conn, schema: str, fence: Fence | None, ids: list[str], rows: dict[str, Row]
) -> None:
    """Refuse the append unless ``fence`` (or no live owner) may write every workflow.

    Raises:
        aion.FencedError: The session's lease expired, or a workflow was taken over.
    """
    if fence is None:
        for wid in ids:
            row = rows.get(wid)
            if row is not None and row.owner is not None and row.owner_live:
                msg = (
                    f"workflow {wid!r} is owned by worker session {row.owner}; "
                    "only that session may append to it."
                )
                raise FencedError(msg, workflow_id=wid)
        return
    live = conn.execute(
        leases.live_session_sql(schema),
        [fence.session_id],
    ).fetchone()
    if live is None or not live[0]:
        msg = (
            f"worker session {fence.session_id}'s lease has expired: it may no longer "
            "append (its workflows can be taken over)."
        )
        raise FencedError(msg, workflow_id=ids[0] if ids else "")
    for wid in ids:
        row = rows.get(wid)
        if row is None:
            continue  # created by this append, owned by the session
        want = fence.epochs.get(wid)
        if row.owner != fence.session_id or want is None or row.epoch != want:
            msg = (
                f"workflow {wid!r} was taken over (owner session {row.owner}, epoch "
                f"{row.epoch}); session {fence.session_id} at epoch {want} may not "
                "append to it."
            )
            raise FencedError(msg, workflow_id=wid)


def write_rows(conn: Conn, schema: str, rows: dict[str, Row], fence: Fence | None) -> None:
    """Insert the new workflow rows and update the others (the status projection)."""
    s = schema
    new = [r for r in rows.values() if r.new]
    old = [r for r in rows.values() if not r.new]
    cur = conn.cursor()
    if new:
        owner = fence.session_id if fence is not None else None
        epoch = CREATED_EPOCH if fence is not None else 0
        inserted = {
            r[0]
            for r in cur.execute(
                f"INSERT INTO {s}.workflows (workflow_id, run_id, workflow_type, status, "
                "started_at, closed_at, last_seq, parent_id, stalled_reason, runs, owner, "
                "epoch) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
                "%s::timestamptz[], %s::timestamptz[], %s::bigint[], %s::text[], "
                "%s::json[], %s::int[], %s::bigint[], %s::bigint[]) "
                "ON CONFLICT (workflow_id) DO NOTHING RETURNING workflow_id",
                [
                    [r.workflow_id for r in new],
                    [r.run_id for r in new],
                    [r.workflow_type for r in new],
                    [r.status for r in new],
                    [r.started_at for r in new],
                    [r.closed_at for r in new],
                    [r.last_seq for r in new],
                    [r.parent_id for r in new],
                    [_reason(r) for r in new],
                    [r.runs for r in new],
                    [owner for _ in new],
                    [epoch for _ in new],
                ],
            ).fetchall()
        }
        for r in new:
            if r.workflow_id not in inserted:  # another writer created it meanwhile
                head = cur.execute(
                    f"SELECT last_seq FROM {s}.workflows WHERE workflow_id = %s",
                    [r.workflow_id],
                ).fetchone()
                raise SequenceConflict(r.workflow_id, 0, int(head[0]) if head else 0)
    if old:
        cur.execute(
            f"UPDATE {s}.workflows w SET run_id = v.run_id, workflow_type = v.wtype, "
            "status = v.status, closed_at = v.closed_at, last_seq = v.last_seq, "
            "stalled_reason = v.reason, runs = v.runs "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
            "%s::timestamptz[], %s::bigint[], %s::json[], %s::int[]) "
            "AS v(workflow_id, run_id, wtype, status, closed_at, last_seq, reason, runs) "
            "WHERE w.workflow_id = v.workflow_id",
            [
                [r.workflow_id for r in old],
                [r.run_id for r in old],
                [r.workflow_type for r in old],
                [r.status for r in old],
                [r.closed_at for r in old],
                [r.last_seq for r in old],
                [_reason(r) for r in old],
                [r.runs for r in old],
            ],
        )


def write_timers(conn: Conn, schema: str, timers: dict[str, TimerOps]) -> None:
    """Apply the batch's timer changes: clear a run's, drop settled ones, upsert due ones."""
    s = schema
    cleared = [w for w, ops in timers.items() if ops.clear]
    if cleared:
        conn.execute(
            f"DELETE FROM {s}.timers WHERE workflow_id = ANY(%s)",
            [cleared],
        )
    gone = [(w, k) for w, ops in timers.items() for k, t in ops.changes.items() if t is None]
    if gone:
        conn.execute(
            f"DELETE FROM {s}.timers t USING unnest(%s::text[], %s::text[], %s::int[]) "
            "AS g(workflow_id, run_id, ordinal) WHERE t.workflow_id = g.workflow_id "
            "AND t.run_id = g.run_id AND t.ordinal = g.ordinal",
            [[w for w, _ in gone], [k[0] for _, k in gone], [k[1] for _, k in gone]],
        )
    due = [t for ops in timers.values() for t in ops.changes.values() if t is not None]
    if due:
        conn.execute(
            f"INSERT INTO {s}.timers (workflow_id, run_id, ordinal, fire_at, kind) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::timestamptz[], "
            "%s::text[]) ON CONFLICT (workflow_id, run_id, ordinal) DO UPDATE "
            "SET fire_at = excluded.fire_at, kind = excluded.kind",
            [
                [t.workflow_id for t in due],
                [t.run_id for t in due],
                [t.ordinal for t in due],
                [t.fire_at for t in due],
                [t.kind for t in due],
            ],
        )


def _reason(row: Row) -> str | None:
    # Stored as JSON text: PostgreSQL text cannot hold NUL, a JSON string can escape it.
    return _codec.dumps(row.stalled_reason) if row.stalled_reason is not None else None
