"""`PostgresStore`: histories in a PostgreSQL database, shared by many processes.

Unlike DuckDB, PostgreSQL serves many processes at once, so this store keeps
no in-memory index: heads, the status projection and pending timers are
tables written in the same transaction as the events, and every read asks
the database. One append is one transaction that

1. locks the batch's workflow rows (``FOR UPDATE``), which serialises two
   writers on one workflow: the second sees the first's head and gets
   `SequenceConflict`, with nothing written;
2. checks the writer's fence (`aion.store.Fence`, see `_postgres_leases`);
3. checks the seqs exactly as the other stores do, then writes the events
   (``COPY``), the projection rows and the timer rows.

Payloads are stored as ``json`` (not ``jsonb``): the exact text the codec
produced, key order and duplicate keys included, so digests and replays see
the bytes that were recorded. Every driver error leaves as a typed
`StoreError`; a connection lost mid-transaction is `StoreInvalidatedError`
(the outcome of a COMMIT in flight is unknown until `reopen`).
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import psycopg

from aion import _codec
from aion._errors import (
    StoreConflictError,
    StoreError,
    StoreInvalidatedError,
)
from aion._events import TERMINAL_STATUSES, Event
from aion.store import _postgres_notify as notify
from aion.store import _postgres_routing as routing
from aion.store import _postgres_write as write
from aion.store._postgres_fold import check, event_rows, fold
from aion.store._postgres_leases import Fence
from aion.store._postgres_routing import Post
from aion.store._postgres_schema import check_schema_name, prepare
from aion.store._postgres_sessions import WorkerSessions
from aion.store._postgres_url import redact
from aion.store._postgres_write import CREATED_EPOCH as CREATED_EPOCH
from aion.store._protocol import Append, TimerInfo, WorkflowInfo

#: ``idle_in_transaction_session_timeout`` before any session asks for a shorter one.
IDLE_TIMEOUT_SECONDS: Final = 10.0
#: How long a judgement after a lost connection waits for the old server process to end.
BACKEND_WAIT_SECONDS: Final = 5.0

_Conn = psycopg.Connection[tuple[Any, ...]]
_EVENT_COLUMNS: Final = (
    "kind, seq, run_id, recorded_at, ordinal, name, payload::text, source, digest"
)
_INFO_COLUMNS: Final = (
    "workflow_id, run_id, workflow_type, status, started_at, closed_at, last_seq, "
    "parent_id, stalled_reason::text, runs"
)


def _decode(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[str, Event]]:
    """``(workflow_id, event)`` for rows of ``SELECT workflow_id, {_EVENT_COLUMNS}``.

    The cyclic collector is paused meanwhile (decoding builds only acyclic,
    long-lived objects; collections would rescan them for nothing).
    """
    decode = _codec.event_from_row
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        for workflow_id, kind, seq, run_id, at, ordinal, name, payload, source, digest in rows:
            yield workflow_id, decode(kind, seq, run_id, at, ordinal, name, payload, source, digest)
    finally:
        if paused:
            gc.enable()


def _info(row: tuple[Any, ...]) -> WorkflowInfo:
    workflow_id, run_id, wtype, status, started, closed, last_seq, parent, reason, runs = row
    return WorkflowInfo(
        workflow_id=workflow_id,
        run_id=run_id,
        workflow_type=wtype,
        status=status,
        started_at=started,
        closed_at=closed,
        last_seq=int(last_seq),
        parent_id=parent,
        stalled_reason=_codec.loads(reason) if reason is not None else None,
        runs=int(runs),
    )


class PostgresStore(WorkerSessions):
    """A history store in a PostgreSQL database (``pip install aion[postgres]``).

    Args:
        dsn: A libpq connection string or ``postgresql://`` URL.
        schema: The schema aion's tables live in (created on first open).
        read_only: Open for reading only (no schema is created; appends refused).
    """

    def __init__(self, dsn: str, *, schema: str = "aion", read_only: bool = False) -> None:
        self.dsn = dsn
        self.path = redact(dsn)  # what messages (and the CLI) show: never a password
        self.schema = check_schema_name(schema)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._idle_timeout = IDLE_TIMEOUT_SECONDS
        self._sessions: set[int] = set()
        self._exists = False
        self._open()

    @property
    def exists(self) -> bool:
        """Whether aion's schema is in the database (a read-only open never creates it)."""
        return self._exists

    # --- connection -------------------------------------------------------------------

    def _connect(self) -> _Conn:
        """The driver connection; the one seam fault-injection tests replace."""
        return psycopg.connect(self.dsn, autocommit=True, application_name="aion")

    def _open(self) -> None:
        try:
            self._conn = self._connect()
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            msg = f"cannot connect to PostgreSQL at {self.path!r}: {first}."
            raise StoreError(msg) from None
        try:
            self._conn.execute("SET TimeZone = 'UTC'")
            row = self._conn.execute(
                "SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            ).fetchone()
            self._backend_start: datetime | None = row[0] if row is not None else None
            self._set_idle_timeout(self._idle_timeout)
            if self.read_only:
                self._conn.execute("SET default_transaction_read_only = on")
            self._exists = prepare(self._conn, self.schema, create=not self.read_only)
        except StoreError:
            self._conn.close()
            raise
        except psycopg.Error as exc:
            self._conn.close()
            raise self._translate(exc, "open") from None

    def _set_idle_timeout(self, seconds: float) -> None:
        # A SET takes no parameters; the value is a number we computed, never user text.
        self._conn.execute(f"SET idle_in_transaction_session_timeout = {int(seconds * 1000)}")
        self._idle_timeout = seconds

    def reopen(self) -> None:
        """Drop the connection and connect again (after `StoreInvalidatedError`).

        The tables are the truth, so nothing else needs rebuilding; a caller
        compares heads with its interrupted batch to learn whether it landed.

        Raises:
            aion.StoreError: The server cannot be reached.
        """
        with self._lock:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._open()

    def _translate(self, exc: psycopg.Error, doing: str) -> StoreError:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        where = f"cannot {doing} the aion store {self.schema!r} at {self.path!r}"
        conflicts = (
            psycopg.errors.SerializationFailure,
            psycopg.errors.DeadlockDetected,
            psycopg.errors.UniqueViolation,
            psycopg.errors.LockNotAvailable,
        )
        if isinstance(exc, conflicts) and not self._conn.broken:
            return StoreConflictError(f"{where}: the transaction was rolled back ({first}).")
        if self._conn.broken or self._conn.closed or isinstance(exc, psycopg.OperationalError):
            msg = (
                f"{where}: the connection to PostgreSQL was lost ({first}); whether the "
                "transaction in progress committed is known only after reconnecting."
            )
            return StoreInvalidatedError(msg)
        if isinstance(exc, psycopg.DataError) and "NUL" in text:
            msg = f"{where}: PostgreSQL text cannot hold NUL (0x00) characters ({first})."
            return StoreError(msg)
        return StoreError(f"{where}: {first}.")

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[_Conn]:
        with self._lock:
            try:
                yield self._conn
            except psycopg.Error as exc:
                raise self._translate(exc, doing) from None

    # --- appends ----------------------------------------------------------------------

    def append(
        self,
        batch: Sequence[Append],
        *,
        fence: Fence | None = None,
        consume: Sequence[int] = (),
    ) -> None:
        """Append all events of ``batch`` in one transaction (all or nothing).

        Args:
            batch: The appends.
            fence: The writing worker session and the epochs it claimed; every
                workflow written must be owned by it (new ones become its own).
                Without a fence, workflows a live session owns are refused.
            consume: Inbox message ids the batch records; deleted in the same transaction.

        Raises:
            aion.SequenceConflict: A head moved (another writer appended first).
            aion.store.FencedError: The writer does not own a workflow it writes.
            aion.HistoryError: The batch is not contiguous or does not start a history.
            aion.StoreInvalidatedError: The connection was lost; reconnect with `reopen`.
        """
        self._append(batch, fence, consume, route=False)

    def append_routed(
        self,
        batch: Sequence[Append],
        *,
        fence: Fence,
        consume: Sequence[int] = (),
        marker: str | None = None,
    ) -> list[Post]:
        """A fenced `append` whose events for other sessions' workflows become inbox messages.

        What a worker's step writes into workflows it does not own (see
        `aion.store._postgres_routing`) is posted to their owners in the same
        transaction; the messages posted are returned. A ``marker`` key is
        inserted into the ``posted`` table in that transaction too, so that
        after a connection lost at COMMIT `posted` tells whether it landed
        (the one sign a batch that only posts leaves that is its own).
        """
        return self._append(batch, fence, consume, route=True, marker=marker)

    def _append(
        self,
        batch: Sequence[Append],
        fence: Fence | None,
        consume: Sequence[int],
        *,
        route: bool,
        marker: str | None = None,
    ) -> list[Post]:
        if self.read_only:
            msg = f"the aion store at {self.path!r} is open read-only; appends need a writer."
            raise StoreError(msg)
        ids = list(dict.fromkeys(item.workflow_id for item in batch))
        if not ids and not consume:
            return []
        s = self.schema
        posts: list[Post] = []
        with self._guard("append to") as conn, conn.transaction():
            rows = write.lock_rows(conn, s, ids)
            if route and fence is not None:
                batch, posts = routing.route(batch, rows, fence)
                ids = list(dict.fromkeys(item.workflow_id for item in batch))
                for wid in [w for w in rows if w not in ids]:
                    del rows[wid]
            write.check_fence(conn, s, fence, ids, rows)
            closing = {w for w, r in rows.items() if r.status in TERMINAL_STATUSES}
            check(batch, rows)
            timers = fold(batch, rows)
            write.write_rows(conn, s, rows, fence)
            events = event_rows(batch, _codec.event_payload)
            if events:
                writer = fence.session_id if fence is not None else None
                with conn.cursor().copy(
                    f"COPY {s}.events (workflow_id, seq, run_id, kind, ordinal, name, payload, "
                    "recorded_at, source, digest, written_by) FROM STDIN"
                ) as copy:
                    for row in events:
                        copy.write_row((*row, writer))
            write.write_timers(conn, s, timers)
            if consume:
                conn.execute(
                    f"DELETE FROM {s}.inbox WHERE message_id = ANY(%s)",
                    [list(consume)],
                )
            if posts:
                conn.execute(
                    f"INSERT INTO {s}.inbox (workflow_id, kind, payload) "
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::json[])",
                    [
                        [p.workflow_id for p in posts],
                        [p.kind for p in posts],
                        [p.payload for p in posts],
                    ],
                )
            if marker is not None:
                conn.execute(f"INSERT INTO {s}.posted (batch_key) VALUES (%s)", [marker])
            work = bool(posts) or (fence is None and any(r.new for r in rows.values()))
            closed = any(
                r.status in TERMINAL_STATUSES and w not in closing for w, r in rows.items()
            )
            notify.after_commit(conn, s, work=work, closed=closed)
            self._before_commit()
        return posts

    def _before_commit(self) -> None:
        """Called inside an append's transaction just before COMMIT (a seam for tests)."""

    # --- judging a transaction after a lost connection --------------------------------

    @property
    def backend(self) -> tuple[int, datetime | None]:
        """The server process of the current connection: its pid and when it started.

        The start time tells that process apart from a later one the server
        gave the same pid.
        """
        with self._lock:
            return int(self._conn.info.backend_pid), self._backend_start

    def wait_backend_gone(
        self, backend: tuple[int, datetime | None], limit: float = BACKEND_WAIT_SECONDS
    ) -> bool:
        """Wait until server process ``backend`` has ended (ended by us after half ``limit``).

        A COMMIT the server was still running when the connection broke can
        become visible after a new connection looked: judged before the old
        backend is gone, "not landed" could turn true a moment later. Once it
        has ended, the transaction's outcome is fixed. Returns whether it ended.
        """
        pid, started = backend
        if pid <= 0:
            return True
        deadline = time.monotonic() + limit
        terminate_at: float | None = time.monotonic() + limit / 2
        same = "pid = %(pid)s AND (%(started)s::timestamptz IS NULL OR backend_start = %(started)s)"
        params = {"pid": pid, "started": started}
        with self._guard("read") as conn:
            while True:
                row = conn.execute(
                    f"SELECT count(*) FROM pg_stat_activity WHERE {same}", params
                ).fetchone()
                if row is not None and row[0] == 0:
                    return True
                now = time.monotonic()
                if now >= deadline:
                    return False
                if terminate_at is not None and now >= terminate_at:
                    conn.execute(
                        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {same}",
                        params,
                    )
                    terminate_at = None
                time.sleep(0.01)

    def posted(self, marker: str) -> bool:
        """Whether the batch that carried ``marker`` (see `append_routed`) committed."""
        with self._guard("read") as conn:
            row = conn.execute(
                f"SELECT 1 FROM {self.schema}.posted WHERE batch_key = %s", [marker]
            ).fetchone()
        return row is not None

    # --- reads ------------------------------------------------------------------------

    def _events(self, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if not self._exists:
            return []
        with self._guard("read") as conn:
            return conn.execute(
                f"SELECT workflow_id, {_EVENT_COLUMNS} FROM {self.schema}.events {where} "
                "ORDER BY workflow_id, seq",
                params,
            ).fetchall()

    def history(self, workflow_id: str) -> list[Event]:
        """All events of a workflow in seq order ([] when unknown)."""
        rows = self._events("WHERE workflow_id = %s", [workflow_id])
        return [event for _, event in _decode(rows)]

    def histories(self, workflow_ids: Iterable[str] | None = None) -> dict[str, list[Event]]:
        """Many histories in one query, grouped by workflow."""
        if workflow_ids is None:
            rows = self._events("", [])
        else:
            ids = list(workflow_ids)
            if not ids:
                return {}
            rows = self._events("WHERE workflow_id = ANY(%s)", [ids])
        out: dict[str, list[Event]] = {}
        current: list[Event] = []
        last: str | None = None
        for workflow_id, event in _decode(rows):
            if workflow_id != last:
                current = out.setdefault(workflow_id, [])
                last = workflow_id
            current.append(event)
        return out

    def info(self, workflow_id: str) -> WorkflowInfo | None:
        """The visibility record of one workflow."""
        if not self._exists:
            return None
        with self._guard("read") as conn:
            row = conn.execute(
                f"SELECT {_INFO_COLUMNS} FROM {self.schema}.workflows WHERE workflow_id = %s",
                [workflow_id],
            ).fetchone()
        return _info(row) if row is not None else None

    def workflows(
        self, *, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Visibility records, oldest first (then by id)."""
        if not self._exists:
            return []
        with self._guard("read") as conn:
            rows = conn.execute(
                f"SELECT {_INFO_COLUMNS} FROM {self.schema}.workflows "
                "WHERE (%(status)s::text IS NULL OR status = %(status)s) "
                "AND (%(type)s::text IS NULL OR workflow_type = %(type)s) "
                "ORDER BY started_at, workflow_id",
                {"status": status, "type": workflow_type},
            ).fetchall()
        return [_info(row) for row in rows]

    def due_timers(self, now: datetime | None = None) -> list[TimerInfo]:
        """Pending timers, earliest first; only those due at ``now`` when given."""
        if not self._exists:
            return []
        with self._guard("read") as conn:
            rows = conn.execute(
                f"SELECT workflow_id, run_id, ordinal, fire_at, kind FROM {self.schema}.timers "
                "WHERE %(now)s::timestamptz IS NULL OR fire_at <= %(now)s "
                "ORDER BY fire_at, workflow_id, ordinal",
                {"now": now},
            ).fetchall()
        return [
            TimerInfo(workflow_id=w, run_id=r, ordinal=o, fire_at=f.astimezone(UTC), kind=k)
            for w, r, o, f, k in rows
        ]

    def close(self) -> None:
        """Close the connection (an open session's lease simply runs out)."""
        with self._lock:
            self._conn.close()
