"""Fault injection at the store: make the Nth append fail the way DuckDB fails.

`FaultyStore` is a real `DuckDBStore` on a real file whose DuckDB connection
is wrapped, so the store's own error handling (rollback, translation into
typed errors, reopening) runs exactly as it would in production. A `Fault`
names which append fails, at which point of the transaction, and with
which DuckDB exception:

* ``TransactionException`` (a conflict): DuckDB rolls the transaction back;
  the engine must retry the same batch.
* ``FatalException`` (e.g. disk full while checkpointing): the instance is
  invalidated and every later call on it fails until the file is reopened;
  with ``landed=True`` the commit reached the file before the error (the
  case where a fatal error follows a durable commit), so the engine must
  find its batch already there after reopening instead of writing it twice.

Example:
    >>> store = FaultyStore(path, [Fault(at=3, point="commit", error="fatal")])
    >>> engine = aion.Engine(store=store, workflows=[...], activities=[...])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import attrs
import duckdb

from aion._events import kind_of
from aion.store import Append, DuckDBStore

_INVALIDATED = (
    "FATAL Error: database has been invalidated because of a previous fatal error. "
    "The database must be restarted prior to being used again."
)


@attrs.frozen(kw_only=True)
class Fault:
    """One injected failure.

    Attributes:
        at: Which append fails, counting from 1 over the store's lifetime
            (appends that write nothing are not counted).
        point: ``append`` (while rows are handed to DuckDB) or ``commit``
            (at ``COMMIT``, or at the appender flush that commits a batch
            written outside an explicit transaction, as small batches are).
        error: ``transaction`` (DuckDB's ``TransactionException``) or
            ``fatal`` (``FatalException``, which also invalidates the connection).
        landed: For a fatal error at commit: the commit took effect before
            the error was raised.
        reopen_fails: For a fatal error: how many of the following attempts
            to reopen the file fail (with DuckDB's ``IOException``).
    """

    at: int
    point: Literal["append", "commit"] = "commit"
    error: Literal["transaction", "fatal"] = "transaction"
    landed: bool = False
    reopen_fails: int = 0


class FaultyStore(DuckDBStore):
    """A `DuckDBStore` that fails chosen appends with DuckDB's own exceptions.

    Args:
        path: The database file.
        faults: The failures to inject.

    Attributes:
        appends: Appends attempted so far (that had rows to write).
        injected: The faults that have fired, in order.
        reopens: How many times reopening was attempted.
        kinds: The event kinds of each counted append, in order, failed or not
            (lets a test aim a fault at the append that records a given event).
    """

    def __init__(self, path: str | os.PathLike[str], faults: Iterable[Fault] = ()) -> None:
        self.faults = {f.at: f for f in faults}
        self.appends = 0
        self.injected: list[Fault] = []
        self.reopens = 0
        self.kinds: list[list[str]] = []
        self._armed: Fault | None = None
        self._reopen_failures = 0
        super().__init__(path)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._reopen_failures > 0:
            self._reopen_failures -= 1
            msg = f'IO Error: injected: could not open "{self.path}": No space left on device'
            raise duckdb.IOException(msg)
        con: Any = _FaultyConnection(super()._connect(), self)
        return con  # type: ignore[no-any-return]

    def append(self, batch: Sequence[Append]) -> None:
        """Append like `DuckDBStore.append`, failing it if a fault is due."""
        if any(item.events for item in batch):
            self.appends += 1
            self.kinds.append([kind_of(e) for item in batch for e in item.events])
            self._armed = self.faults.get(self.appends)
        try:
            super().append(batch)
        finally:
            self._armed = None

    def reopen(self) -> None:
        """Reopen like `DuckDBStore.reopen`, counting it."""
        self.reopens += 1
        super().reopen()

    def _fire(self, point: str) -> Fault | None:
        fault = self._armed
        if fault is None or fault.point != point:
            return None
        self._armed = None
        self.injected.append(fault)
        if fault.error == "fatal":
            self._reopen_failures = fault.reopen_fails
        return fault


class _FaultyConnection:
    """Wraps a DuckDB connection; raises the armed fault at its point."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: FaultyStore) -> None:
        self._con = con
        self._store = store
        self._dead = False
        self.in_transaction = False

    def _check(self) -> None:
        if self._dead:
            raise duckdb.FatalException(_INVALIDATED)

    def _fail(self, fault: Fault, where: str) -> None:
        if fault.error == "fatal":
            self._dead = True
            msg = f"FATAL Error: injected fatal error at {where} (simulated: No space left)"
            raise duckdb.FatalException(msg)
        msg = f"TransactionContext Error: injected conflict at {where}: Conflict on update!"
        raise duckdb.TransactionException(msg)

    def execute(self, sql: str, *args: Any) -> Any:
        self._check()
        statement = sql.strip().upper()
        if statement == "COMMIT":
            self.in_transaction = False
            fault = self._store._fire("commit")
            if fault is not None:
                if fault.landed:
                    self._con.execute("COMMIT")
                else:
                    self._con.execute("ROLLBACK")  # DuckDB rolls a failed commit back
                self._fail(fault, "COMMIT")
        elif statement == "BEGIN":
            self.in_transaction = True
        elif statement == "ROLLBACK":
            self.in_transaction = False
        return self._con.execute(sql, *args)

    def appender(self, table: str) -> Any:
        self._check()
        return _FaultyAppender(self._con.appender(table), self)

    def close(self) -> None:
        self._con.close()

    def __getattr__(self, name: str) -> Any:
        self._check()
        return getattr(self._con, name)


class _FaultyAppender:
    def __init__(self, appender: Any, con: _FaultyConnection) -> None:
        self._appender = appender
        self._con = con

    def append_rows(self, rows: Any) -> Any:
        self._con._check()
        fault = self._con._store._fire("append")
        if fault is not None:
            self._con._fail(fault, "append")
        return self._appender.append_rows(rows)

    def flush(self) -> Any:
        """Outside a transaction the flush is the commit: a ``commit`` fault fires here."""
        self._con._check()
        if not self._con.in_transaction:
            fault = self._con._store._fire("commit")
            if fault is not None:
                if fault.landed:
                    self._appender.flush()
                else:
                    self._appender.clear()  # a failed commit wrote none of the rows
                self._con._fail(fault, "COMMIT")  # the flush is the commit
        return self._appender.flush()

    def __getattr__(self, name: str) -> Any:
        self._con._check()
        return getattr(self._appender, name)
