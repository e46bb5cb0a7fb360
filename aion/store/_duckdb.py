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
import operator
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import duckdb

from aion import _codec
from aion._errors import (
    ConfigurationError,
    StoreCorruptedError,
    StoreError,
    StoreInvalidatedError,
)
from aion._events import Event
from aion.store import _catalog, _create
from aion.store import _commitlog as commitlog
from aion.store._commitlog import HeadsLog
from aion.store._duckdb_load import COLUMNS, load_index, mark_damaged, may_hold_damaged_timer
from aion.store._index import WorkflowIndex
from aion.store._protocol import Append, TimerInfo, WorkflowInfo
from aion.store._rows import DamagedHistoryError, decode_history, decode_rows, in_seq_order
from aion.store._schema import SCHEMA_VERSION as SCHEMA_VERSION
from aion.store._schema import prepare, translate


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
        self._damage: dict[str, DamagedHistoryError] = {}
        exists = self.path != ":memory:" and Path(self.path).exists()
        if exists and Path(self.path).is_dir():
            msg = f"cannot open {self.path!r}: it is a directory, not a database file."
            raise StoreError(msg)
        torn = exists and _create.is_torn_creation(Path(self.path))
        if torn and read_only:
            msg = (
                f"{self.path!r} holds no history: it is what a crash while creating a store "
                "leaves (the next writable open replaces it)."
            )
            raise StoreError(msg)
        if self.path != ":memory:" and not read_only and (torn or not exists):
            # Built aside, then linked into place: a kill leaves no file or a whole one.
            _create.create(Path(self.path), self._build)
            exists = True
        if exists and not read_only:
            # Validate without write access first: a damaged or foreign file is
            # reported and left exactly as it was.
            _Validator(self.path, read_only=True).close()
            self._catalog_checked = True  # the writable open need not list it again
        self._open()
        self._catalog_checked = False

    #: Whether a writable open loads the index (not the read-only validation pass; a
    #: read-only store loads it on first need, see `_index_ready`).
    _INDEX_AT_OPEN = True
    #: Set for the writable open that follows a read-only validation of the same file.
    _catalog_checked = False

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection; the one seam fault-injection tests replace.

        External access and extension autoloading are off and the configuration
        is locked: a file is data, and nothing stored in it may reach beyond it.
        """
        return _catalog.connect(self.path, read_only=self.read_only)

    @staticmethod
    def _build(path: str) -> None:
        """Make a complete, empty store at ``path`` (a temporary name)."""
        try:
            con = _catalog.connect(path, read_only=False)
        except duckdb.Error as exc:
            raise translate(exc, path, "create") from None
        try:
            prepare(con, path, read_only=False, upgrade=True)
        except duckdb.Error as exc:
            raise translate(exc, path, "create") from None
        finally:
            con.close()

    def _open(self) -> None:
        try:
            self._con = self._connect()
        except duckdb.Error as exc:
            raise translate(exc, self.path, "open") from None
        self._store_id: str | None = None
        self._heads: HeadsLog | None = None
        try:
            self._store_id = prepare(
                self._con,
                self.path,
                read_only=self.read_only,
                upgrade=self._INDEX_AT_OPEN,
                catalog_checked=self._catalog_checked,
            )
            self._check_heads()
            self._index_loaded = False
            if self._INDEX_AT_OPEN and not self.read_only:
                self._load_index()
        except StoreError:
            self._con.close()
            raise
        except duckdb.Error as exc:
            self._con.close()
            raise translate(exc, self.path, "read") from None

    def _check_heads(self) -> None:
        """Refuse a file that holds less than the heads log says was committed.

        Runs in the read-only first look too, so a shortened file is reported
        before a writable open could checkpoint over its damaged WAL.
        """
        if self._store_id is None or self.path == ":memory:":
            return
        writable = self._INDEX_AT_OPEN and not self.read_only
        try:
            log = HeadsLog(self.path, self._store_id, writable=writable)
        except OSError as exc:
            where = commitlog.path_for(self.path)
            msg = f"cannot open {where!r}, the heads log beside the store: {exc.strerror}."
            raise StoreError(msg) from None
        held: dict[str, int] = {}
        if log.committed:
            held = dict(
                self._con.execute(
                    "SELECT workflow_id, max(seq) FROM events "
                    "WHERE workflow_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY workflow_id",
                    [list(log.committed)],
                ).fetchall()
            )
        missing = [
            (workflow_id, held.get(workflow_id, 0), seq)
            for workflow_id, seq in sorted(log.committed.items())
            if held.get(workflow_id, 0) < seq
        ]
        if missing:
            log.close()
            shown = "; ".join(
                f"{w!r} ends at seq {held}, but seq {seq} was committed"
                if held
                else f"{w!r} (committed up to seq {seq}) is gone"
                for w, held, seq in missing[:5]
            )
            more = f"; and {len(missing) - 5} more" if len(missing) > 5 else ""
            count = f"{len(missing)} workflow" + ("s" if len(missing) > 1 else "")
            msg = (
                f"{self.path!r} lost committed history, {count} short of what was committed "
                f"({shown}{more}): its write-ahead log was damaged or removed. Restore the "
                f"file from a backup; if an older copy was put back on purpose, delete "
                f"{log.path!r} to accept it."
            )
            raise StoreCorruptedError(msg)
        if writable:
            self._heads = log
        else:
            log.close()

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
            if self._heads is not None:
                self._heads.close()
            self._index = WorkflowIndex()
            self._damage = {}
            self._open()

    # --- schema ------------------------------------------------------------------------

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
        if self._has_events():
            self._mark_damaged(load_index(self._con, self.path, self._index))
        self._index_loaded = True

    def _index_ready(self) -> WorkflowIndex:
        """The index, loaded first if this is a read-only store's first need of it.

        A writable store loads it at open (appends check against it). A read-only
        one defers it: a process that only reads histories (``aion.replay`` of a
        file) would otherwise pay a scan of every workflow's lifecycle for nothing.
        """
        with self._lock:
            if not self._index_loaded:
                try:
                    self._load_index()
                except duckdb.Error as exc:
                    raise translate(exc, self.path, "read") from None
            return self._index

    def _mark_damaged(self, damaged: dict[str, DamagedHistoryError]) -> None:
        """Record workflows whose rows do not decode: listed as stalled, never run."""
        if not damaged:
            return
        self._damage.update((w, e) for w, e in damaged.items() if w not in self._damage)
        mark_damaged(self._con, self._index, damaged)

    # --- the Store protocol --------------------------------------------------------

    def append(self, batch: Sequence[Append]) -> None:
        """Append all events of ``batch`` in one transaction (all or nothing)."""
        if self.read_only:
            msg = f"{self.path!r} is open read-only; appends need a writer."
            raise StoreError(msg)
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
                raise translate(exc, self.path, "append to") from None
            for item in batch:
                self._index.observe(item.workflow_id, item.events)
            heads = self._heads
            if heads is not None:
                heads.record(
                    {item.workflow_id: item.events[-1].seq for item in batch if item.events}
                )
                if heads.size > commitlog.LIMIT:
                    with contextlib.suppress(StoreError):
                        self.checkpoint()

    def _select(self, where: str, params: list[Any], *, one: bool = False) -> list[tuple[Any, ...]]:
        """Rows of ``SELECT workflow_id, <columns>`` in workflow and seq order.

        With ``one`` (``where`` names a single workflow), rows of ``SELECT <columns>``
        in seq order, sorted in Python only when the scan did not return them so.
        """
        if not self._has_events():
            return []
        if one:
            sql = f"SELECT {COLUMNS} FROM events {where}"
        else:
            sql = f"SELECT workflow_id, {COLUMNS} FROM events {where} ORDER BY workflow_id, seq"
        try:
            with self._lock:
                rows = self._con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise translate(exc, self.path, "read") from None
        return in_seq_order(rows) if one else rows

    def history(self, workflow_id: str) -> list[Event]:
        """All events of a workflow in seq order ([] when unknown).

        Raises:
            DamagedHistoryError: A row of it does not decode (a `StoreCorruptedError`
                naming the workflow and the seq).
        """
        known = self._damage.get(workflow_id)
        if known is not None:
            raise known
        rows = self._select("WHERE workflow_id = ?", [workflow_id], one=True)
        try:
            events = decode_history(rows, self.path, workflow_id)
        except DamagedHistoryError as error:
            with self._lock:
                self._index_ready()
                known = self._damage.get(workflow_id)  # what the index load found comes first
                if known is not None:
                    raise known from None
                self._mark_damaged({workflow_id: error})
            raise
        if not self._index_loaded and may_hold_damaged_timer(workflow_id, events):
            with self._lock:
                self._index_ready()
                known = self._damage.get(workflow_id)
            if known is not None:
                raise known
        return events

    def histories(self, workflow_ids: Iterable[str] | None = None) -> dict[str, list[Event]]:
        """Many histories in one scan, grouped by workflow.

        A workflow with a row that does not decode is left out (and listed as
        stalled from then on, with the reason): one damaged history must not
        stop the others from being read, replayed or recovered.
        """
        self._index_ready()  # the damage it finds is left out too
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
        damaged: dict[str, DamagedHistoryError] = {}
        for workflow_id, event in decode_rows(rows, self.path, damaged):
            if workflow_id != last:  # rows come ordered by workflow: one dict probe per workflow
                current = out.setdefault(workflow_id, [])
                last = workflow_id
            current.append(event)
        if damaged:
            for workflow_id in damaged:
                out.pop(workflow_id, None)
            with self._lock:
                self._mark_damaged(damaged)
        for workflow_id in self._damage.keys() & out.keys():
            del out[workflow_id]
        return out

    def info(self, workflow_id: str) -> WorkflowInfo | None:
        """The visibility record of one workflow."""
        with self._lock:
            return self._index_ready().info(workflow_id)

    def workflows(
        self, *, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Visibility records, oldest first."""
        with self._lock:
            return self._index_ready().workflows(status=status, workflow_type=workflow_type)

    def read_sql(
        self, query: str, *, max_rows: int = 1000
    ) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """Run one SELECT over the tables in a READ ONLY transaction (``aion sql``).

        Only a single SELECT is accepted (so no ``COMMIT; DROP ...`` can end the
        read-only transaction early), on a cursor of this store's hardened
        connection (external access off, configuration locked), and the
        transaction is rolled back whatever happens: a query can read the
        history, never change it, even on a worker's writable store.

        Returns:
            The column names, at most ``max_rows`` rows, and whether more were cut.

        Raises:
            aion.ConfigurationError: Not one SELECT, or DuckDB refused it.
        """
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error as exc:
            msg = f"the SQL does not parse: {exc}"
            raise ConfigurationError(msg) from None
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            msg = "aion sql runs exactly one SELECT statement (read-only)."
            raise ConfigurationError(msg)
        with self._lock:
            cursor = self._con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION READ ONLY")
            try:
                cursor.execute(query)
                columns = [d[0] for d in cursor.description or ()]
                rows = cursor.fetchmany(max_rows + 1)
            finally:
                cursor.execute("ROLLBACK")
        except duckdb.Error as exc:
            msg = f"the SQL failed: {' '.join(str(exc).split())}"
            raise ConfigurationError(msg) from None
        finally:
            cursor.close()
        return columns, rows[:max_rows], len(rows) > max_rows

    def due_timers(self, now: datetime | None = None) -> list[TimerInfo]:
        """Pending timers, earliest first."""
        with self._lock:
            return self._index_ready().due_timers(now)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (bounds what a torn WAL can lose)."""
        with self._lock:
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                raise translate(exc, self.path, "checkpoint") from None
            if self._heads is not None:
                self._heads.reset()  # everything committed is in the main file now

    def close(self) -> None:
        """Checkpoint (so the heads log can start over) and close the connection."""
        with self._lock:
            heads, self._heads = self._heads, None
            if heads is not None:
                try:
                    self._con.execute("CHECKPOINT")
                except duckdb.Error:
                    heads.close()  # the log keeps its lines: the next open checks them
                else:
                    heads.close()
                    heads.remove()  # everything is in the main file: nothing to check
            self._con.close()


class _Validator(DuckDBStore):
    """The read-only first look at an existing file: DuckDB's checks and the schema only.

    Loading the index here too would read every workflow's lifecycle twice per open
    (about 0.4 s per 10,000 workflows); the writable open that follows reads them.
    """

    _INDEX_AT_OPEN = False
