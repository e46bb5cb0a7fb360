"""`DuckDBStore`: histories in one append-only table of an embedded DuckDB file.

Design rules taken from DuckDB's durability behaviour (see the project's
reference notes): history is append-only (never delete and re-insert a key),
all DDL runs at open followed by a CHECKPOINT, appends go through the
appender inside one explicit transaction per batch (a commit costs about a
millisecond whatever its size, so grouping is the only way to be fast), and
every DuckDB error leaves this module as a typed `StoreError`.

An existing file is first opened read-only and validated, so a damaged or
foreign file is reported without the attempt writing to it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb

from aion import _codec
from aion._errors import (
    ForeignStoreError,
    StoreConflictError,
    StoreCorruptedError,
    StoreError,
    StoreInvalidatedError,
    StoreLockedError,
)
from aion._events import STATUS_AFTER, Event, kind_of
from aion.store import _catalog
from aion.store._index import WorkflowIndex
from aion.store._protocol import Append, TimerInfo, WorkflowInfo

#: Version of the table layout; a file with a higher version is refused, never migrated.
SCHEMA_VERSION: Final = 1

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS aion_meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL)",
    """
    CREATE TABLE IF NOT EXISTS events (
        workflow_id VARCHAR NOT NULL,
        seq BIGINT NOT NULL,
        run_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        ordinal INTEGER,
        name VARCHAR,
        payload JSON,
        recorded_at TIMESTAMPTZ NOT NULL,
        source VARCHAR,
        digest VARCHAR
    )
    """,
    """
    CREATE VIEW IF NOT EXISTS workflows AS
    SELECT workflow_id,
           arg_max(run_id, seq) FILTER (WHERE kind = 'WorkflowStarted') AS run_id,
           arg_max(name, seq) FILTER (WHERE kind = 'WorkflowStarted') AS workflow_type,
           arg_max(kind, seq) FILTER (WHERE kind IN
               ('WorkflowStarted', 'WorkflowCompleted', 'WorkflowFailed', 'WorkflowCancelled',
                'WorkflowContinuedAsNew', 'WorkflowStalled', 'WorkflowResumed')) AS last_lifecycle,
           min(recorded_at) AS started_at,
           max(seq) AS last_seq
    FROM events GROUP BY workflow_id
    """,
)

# recorded_at is read as epoch microseconds: DuckDB's TIMESTAMPTZ -> datetime conversion
# costs more than the rest of the row, and a batch shares one timestamp (see _Times).
_COLUMNS: Final = "kind, seq, run_id, epoch_us(recorded_at), ordinal, name, payload, source, digest"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LIFECYCLE: Final = tuple(STATUS_AFTER)
_TIMER_SQL: Final = """
    WITH last AS (
        SELECT workflow_id, run_id, ordinal,
               arg_max(kind, seq) AS kind,
               arg_max(payload, seq) AS payload
        FROM events
        WHERE ordinal IS NOT NULL AND kind IN
            ('TimerStarted', 'TimeoutStarted', 'TimerFired', 'CommandCancelled',
             'ActivityFailed', 'ActivityCompleted')
        GROUP BY ALL
    )
    SELECT workflow_id, run_id, ordinal, kind,
           coalesce(payload->>'fire_at', payload->>'retry_at') AS fire_at
    FROM last
    WHERE kind IN ('TimerStarted', 'TimeoutStarted')
       OR (kind = 'ActivityFailed' AND payload->>'retry_at' IS NOT NULL)
"""
_PID = re.compile(r"PID (\d+)")


def _translate(exc: duckdb.Error, path: str, doing: str) -> StoreError:
    """Turn a DuckDB exception into the typed error a user can act on."""
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        match = _PID.search(text)
        holder = f"process {match.group(1)}" if match else "another process"
        msg = (
            f"cannot {doing} {path!r}: the file is locked by {holder}. Stop that process, or, "
            "if it is an aion worker, let the CLI talk to it."
        )
        return StoreLockedError(msg)
    if "not a valid DuckDB database file" in text:
        return StoreCorruptedError(f"cannot {doing} {path!r}: it is not a DuckDB database file.")
    if any(
        s in text for s in ("checksum", "Corrupt", "Could not read enough bytes", "replaying WAL")
    ):
        first = text.splitlines()[0]
        return StoreCorruptedError(
            f"cannot {doing} {path!r}: the database file is damaged ({first})."
        )
    if isinstance(exc, duckdb.FatalException):
        first = text.splitlines()[0] if text else "FatalException"
        msg = (
            f"cannot {doing} {path!r}: the database hit a fatal error and must be "
            f"reopened ({first})."
        )
        return StoreInvalidatedError(msg)
    if isinstance(exc, duckdb.TransactionException):
        first = text.splitlines()[0] if text else "TransactionException"
        msg = f"cannot {doing} {path!r}: the transaction was rolled back ({first})."
        return StoreConflictError(msg)
    return StoreError(
        f"cannot {doing} {path!r}: {text.splitlines()[0] if text else type(exc).__name__}."
    )


@functools.cache
def _view_sql() -> dict[str, str]:
    """The aion views as this DuckDB renders them (what a file's catalog is compared with)."""
    con = _catalog.connect(":memory:", read_only=False)
    try:
        for statement in _SCHEMA:
            con.execute(statement)
        return {
            name: sql
            for name, sql, internal in con.execute(
                "SELECT view_name, sql, internal FROM system.main.duckdb_views()"
            ).fetchall()
            if not internal
        }
    finally:
        con.close()


class _Times(dict[int, datetime]):
    """Epoch microseconds -> aware UTC datetime, memoised for one read.

    Events committed in one batch share their timestamp, so most rows of a
    read hit the memo instead of building a datetime.
    """

    def __missing__(self, micros: int) -> datetime:
        value = self[micros] = _EPOCH + timedelta(microseconds=micros)
        return value


def _decode_rows(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[str, Event]]:
    """``(workflow_id, event)`` for rows of ``SELECT workflow_id, {_COLUMNS}``.

    The cyclic garbage collector is paused meanwhile: decoding allocates only
    acyclic objects that all stay alive, yet each allocation burst triggers
    collections that rescan them (about a third of the decode time).
    """
    times = _Times()
    decode = _codec.event_from_row
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        for workflow_id, kind, seq, run_id, micros, ordinal, name, payload, source, digest in rows:
            event = decode(kind, seq, run_id, times[micros], ordinal, name, payload, source, digest)
            yield workflow_id, event
    finally:
        if paused:
            gc.enable()


class DuckDBStore:
    """A history store in an embedded DuckDB file (or ``":memory:"``).

    Args:
        path: The database file; created with its schema when missing.
        read_only: Open for reading only (many read-only processes may share a file).
    """

    def __init__(
        self, path: str | os.PathLike[str] = "aion.duckdb", *, read_only: bool = False
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._index = WorkflowIndex()
        exists = self.path != ":memory:" and Path(self.path).exists()
        if exists and Path(self.path).is_dir():
            msg = f"cannot open {self.path!r}: it is a directory, not a database file."
            raise StoreError(msg)
        if exists and not read_only:
            # Validate without write access first: a damaged or foreign file is
            # reported and left exactly as it was.
            _Validator(self.path, read_only=True).close()
        self._open()

    #: Whether opening loads the index (the read-only validation pass skips it).
    _INDEX_AT_OPEN = True

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection; the one seam fault-injection tests replace.

        External access and extension autoloading are off and the configuration
        is locked: a file is data, and nothing stored in it may reach beyond it.
        """
        return _catalog.connect(self.path, read_only=self.read_only)

    def _open(self) -> None:
        try:
            self._con = self._connect()
        except duckdb.Error as exc:
            raise _translate(exc, self.path, "open") from None
        try:
            self._prepare()
            if self._INDEX_AT_OPEN:
                self._load_index()
        except StoreError:
            self._con.close()
            raise
        except duckdb.Error as exc:
            self._con.close()
            raise _translate(exc, self.path, "read") from None

    def reopen(self) -> None:
        """Drop the DuckDB instance and open the file again, reloading the index from disk.

        Needed after `StoreInvalidatedError`: DuckDB refuses every query on an
        instance that hit a fatal error. The index is rebuilt from what the file
        holds, so a caller can tell whether its interrupted append was committed.
        A ``":memory:"`` database cannot be reopened (its contents died with it).

        Raises:
            aion.StoreError: The file cannot be opened again (still locked, damaged, ...).
        """
        with self._lock:
            if self.path == ":memory:":
                msg = "cannot reopen an in-memory database: its contents are gone."
                raise StoreInvalidatedError(msg)
            with contextlib.suppress(duckdb.Error):  # an invalidated instance may refuse
                self._con.close()
            self._index = WorkflowIndex()
            self._open()

    # --- schema ------------------------------------------------------------------------

    def _prepare(self) -> None:
        # Before any query of aion's own: the file's catalog must hold nothing
        # aion did not create (a macro would replace a function our queries call).
        found, tables = _catalog.inspect_catalog(self._con, _view_sql())
        if found:
            raise _catalog.refuse_foreign(self.path, found)
        if "aion_meta" in tables:
            if "events" in tables:
                extra = sorted(tables - set(_catalog.TABLE_COLUMNS))
                if extra:
                    found = [f"table {name}" for name in extra]
                    raise _catalog.refuse_foreign(self.path, found)
            meta = dict(self._con.execute("SELECT key, value FROM aion_meta").fetchall())
            if meta.get("app") != "aion" or "events" not in tables:
                msg = (
                    f"{self.path!r} is a DuckDB database but not an aion store "
                    "(its aion_meta table is foreign)."
                )
                raise ForeignStoreError(msg)
            text = meta.get("schema_version", "0")
            if not text.isascii() or not text.isdigit() or len(text) > 6:
                msg = (
                    f"{self.path!r} records a garbage schema version {text[:40]!r} "
                    "in its aion_meta table: the file is damaged."
                )
                raise StoreCorruptedError(msg)
            version = int(text)
            if version > SCHEMA_VERSION:
                msg = (
                    f"{self.path!r} was written by a newer aion (schema version {version}; this "
                    f"aion reads up to {SCHEMA_VERSION}): upgrade aion to open it."
                )
                raise ForeignStoreError(msg)
            if version < 1:
                msg = f"{self.path!r} has an unknown aion schema version {version}."
                raise ForeignStoreError(msg)
            return
        if tables:
            names = ", ".join(sorted(tables)[:5])
            msg = (
                f"{self.path!r} is a DuckDB database but not an aion store "
                f"(it holds tables: {names})."
            )
            raise ForeignStoreError(msg)
        if self.read_only:
            return  # an empty file opened for reading: nothing to show
        self._con.execute("BEGIN")
        for statement in _SCHEMA:
            self._con.execute(statement)
        self._con.execute(
            "INSERT INTO aion_meta VALUES ('app', 'aion'), ('schema_version', ?)",
            [str(SCHEMA_VERSION)],
        )
        self._con.execute("COMMIT")
        self._con.execute("CHECKPOINT")

    def _has_events(self) -> bool:
        # Asked before every read; a statement costs ~0.3 ms, and once the table
        # exists it stays, so only the answer "not yet" is asked again.
        if getattr(self, "_events_exist", False):
            return True
        exists = any(
            row[0] == "events"
            for row in self._con.execute(
                "SELECT table_name FROM system.main.duckdb_tables()"
            ).fetchall()
        )
        self._events_exist = exists
        return exists

    def _load_index(self) -> None:
        if not self._has_events():
            return
        placeholders = ", ".join("?" for _ in _LIFECYCLE)
        rows = self._con.execute(
            f"SELECT workflow_id, {_COLUMNS} FROM events WHERE kind IN ({placeholders}) "
            "ORDER BY workflow_id, seq",
            list(_LIFECYCLE),
        ).fetchall()
        current: str | None = None
        batch: list[Event] = []
        for workflow_id, event in _decode_rows(rows):
            if workflow_id != current:
                if current is not None:
                    self._index.observe(current, batch)
                current, batch = workflow_id, []
            batch.append(event)
        if current is not None:
            self._index.observe(current, batch)
        for workflow_id, last_seq in self._con.execute(
            "SELECT workflow_id, max(seq) FROM events GROUP BY workflow_id"
        ).fetchall():
            self._index.set_head(workflow_id, last_seq)
        for workflow_id, run_id, ordinal, kind, fire_at in self._con.execute(_TIMER_SQL).fetchall():
            info = self._index.info(workflow_id)
            if info is None or info.run_id != run_id or info.status not in ("running", "stalled"):
                continue
            timer_kind = {"TimerStarted": "sleep", "TimeoutStarted": "timeout"}.get(kind, "retry")
            self._index.add_timer(
                TimerInfo(
                    workflow_id=workflow_id,
                    run_id=run_id,
                    ordinal=ordinal,
                    fire_at=datetime.fromisoformat(fire_at).astimezone(UTC),
                    kind=timer_kind,
                )
            )

    # --- the Store protocol --------------------------------------------------------

    def append(self, batch: Sequence[Append]) -> None:
        """Append all events of ``batch`` in one transaction (all or nothing)."""
        if self.read_only:
            msg = f"{self.path!r} is open read-only; appends need a writer."
            raise StoreError(msg)
        rows: list[tuple[Any, ...]] = []
        for item in batch:
            for event in item.events:
                rows.append(
                    (
                        item.workflow_id,
                        event.seq,
                        event.run_id,
                        kind_of(event),
                        getattr(event, "ordinal", None),
                        getattr(event, "name", None),
                        _codec.event_payload(event),
                        event.recorded_at,
                        getattr(event, "source", None),
                        getattr(event, "digest", None),
                    )
                )
        with self._lock:
            self._index.check(batch)
            if not rows:
                return
            con = self._con
            try:
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
            except duckdb.Error as exc:
                raise _translate(exc, self.path, "append to") from None
            for item in batch:
                self._index.observe(item.workflow_id, item.events)

    def _select(self, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if not self._has_events():
            return []
        try:
            with self._lock:
                return self._con.execute(
                    f"SELECT workflow_id, {_COLUMNS} FROM events {where} ORDER BY workflow_id, seq",
                    params,
                ).fetchall()
        except duckdb.Error as exc:
            raise _translate(exc, self.path, "read") from None

    def history(self, workflow_id: str) -> list[Event]:
        """All events of a workflow in seq order ([] when unknown)."""
        rows = self._select("WHERE workflow_id = ?", [workflow_id])
        return [event for _, event in _decode_rows(rows)]

    def histories(self, workflow_ids: Iterable[str] | None = None) -> dict[str, list[Event]]:
        """Many histories in one scan, grouped by workflow."""
        if workflow_ids is None:
            rows = self._select("", [])
        else:
            ids = list(workflow_ids)
            if not ids:
                return {}
            rows = self._select("WHERE workflow_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        out: dict[str, list[Event]] = {}
        current: list[Event] = []
        last: str | None = None
        for workflow_id, event in _decode_rows(rows):
            if workflow_id != last:  # rows come ordered by workflow: one dict probe per workflow
                current = out.setdefault(workflow_id, [])
                last = workflow_id
            current.append(event)
        return out

    def info(self, workflow_id: str) -> WorkflowInfo | None:
        """The visibility record of one workflow."""
        with self._lock:
            return self._index.info(workflow_id)

    def workflows(
        self, *, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Visibility records, oldest first."""
        with self._lock:
            return self._index.workflows(status=status, workflow_type=workflow_type)

    def due_timers(self, now: datetime | None = None) -> list[TimerInfo]:
        """Pending timers, earliest first."""
        with self._lock:
            return self._index.due_timers(now)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (bounds what a torn WAL can lose)."""
        with self._lock:
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                raise _translate(exc, self.path, "checkpoint") from None

    def close(self) -> None:
        """Close the connection (DuckDB checkpoints on a clean close)."""
        with self._lock:
            self._con.close()


class _Validator(DuckDBStore):
    """The read-only first look at an existing file: DuckDB's checks and the schema only.

    Loading the index here too would read every workflow's lifecycle twice per open
    (about 0.4 s per 10,000 workflows); the writable open that follows reads them.
    """

    _INDEX_AT_OPEN = False
