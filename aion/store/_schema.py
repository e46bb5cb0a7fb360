"""The DuckDB store's schema, and the check an opened file must pass before it is read.

All DDL runs at open and is followed by a CHECKPOINT (DuckDB's crash-recovery
bugs cluster around DDL held only in the WAL), and every DuckDB error leaves
through `translate` as the typed `StoreError` a user can act on.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Final

import duckdb

from aion._errors import (
    ForeignStoreError,
    StoreConflictError,
    StoreCorruptedError,
    StoreError,
    StoreInvalidatedError,
    StoreLockedError,
)
from aion.store import _catalog

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

_PID = re.compile(r"PID (\d+)")


def translate(exc: duckdb.Error, path: str, doing: str) -> StoreError:
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


#: `_SCHEMA` as DuckDB renders it in its catalog (what `reference_sql` returns under the
#: DuckDB this was written with; a test compares the two). A file whose tables and views
#: read back as exactly this text holds aion's schema, whatever DuckDB rendered it, so
#: opening it needs no second, in-memory database to render the reference (about a
#: tenth of the CPU of `aion list`); any other text is compared with `reference_sql`.
RENDERED: Final[dict[str, str]] = {
    "aion_meta": 'CREATE TABLE aion_meta("key" VARCHAR NOT NULL, "value" VARCHAR NOT NULL);',
    "events": (
        "CREATE TABLE events(workflow_id VARCHAR NOT NULL, seq BIGINT NOT NULL, "
        "run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, ordinal INTEGER, "
        '"name" VARCHAR, payload JSON, recorded_at TIMESTAMP WITH TIME ZONE NOT '
        'NULL, "source" VARCHAR, digest VARCHAR);'
    ),
    "workflows": (
        "CREATE VIEW workflows AS SELECT workflow_id, arg_max(run_id, seq) "
        "FILTER (WHERE (kind = 'WorkflowStarted')) AS run_id, arg_max(\"name\", "
        "seq) FILTER (WHERE (kind = 'WorkflowStarted')) AS workflow_type, "
        "arg_max(kind, seq) FILTER (WHERE (kind IN ('WorkflowStarted', "
        "'WorkflowCompleted', 'WorkflowFailed', 'WorkflowCancelled', "
        "'WorkflowContinuedAsNew', 'WorkflowStalled', 'WorkflowResumed'))) AS "
        "last_lifecycle, min(recorded_at) AS started_at, max(seq) AS last_seq "
        "FROM events GROUP BY workflow_id;"
    ),
}


@functools.cache
def reference_sql() -> dict[str, str]:
    """The aion tables and views as this DuckDB renders them (what a file is compared with)."""
    con = _catalog.connect(":memory:", read_only=False)
    try:
        for statement in _SCHEMA:
            con.execute(statement)
        rows = con.execute(
            "SELECT table_name, sql FROM system.main.duckdb_tables() WHERE NOT internal "
            "UNION ALL "
            "SELECT view_name, sql FROM system.main.duckdb_views() WHERE NOT internal"
        ).fetchall()
        return dict(rows)
    finally:
        con.close()


def prepare(
    con: duckdb.DuckDBPyConnection,
    path: str,
    *,
    read_only: bool,
    upgrade: bool,
    catalog_checked: bool = False,
) -> str | None:
    """Check an opened file is an aion store (creating the schema in an empty one).

    Args:
        con: The connection, on which nothing else has run yet.
        path: The file, for messages.
        read_only: Whether the connection is read-only (an empty file stays empty).
        upgrade: Whether a store from before the heads log may be given its store id.
        catalog_checked: The read-only first look at this file just checked its catalog.

    Returns:
        The store id the heads log is bound to (None: an empty file, or an old
        store opened read-only).
    """
    # Before any query of aion's own: the file's catalog must hold nothing
    # aion did not create (a macro would replace a function our queries call).
    found: list[str] = []
    if catalog_checked:
        tables = _catalog.main_tables(con)
    else:
        found, tables = _catalog.inspect_catalog(con, RENDERED)
        if found:  # maybe only another DuckDB's rendering of the same schema
            found, tables = _catalog.inspect_catalog(con, reference_sql())
    if found:
        raise _catalog.refuse_foreign(path, found)
    if "aion_meta" in tables:
        if "events" in tables:
            extra = sorted(tables - _catalog.AION_TABLES)
            if extra:
                found = [f"table {name}" for name in extra]
                raise _catalog.refuse_foreign(path, found)
        meta = dict(con.execute("SELECT key, value FROM aion_meta").fetchall())
        if meta.get("app") != "aion" or "events" not in tables:
            msg = (
                f"{path!r} is a DuckDB database but not an aion store "
                "(its aion_meta table is foreign)."
            )
            raise ForeignStoreError(msg)
        text = meta.get("schema_version", "0")
        if not text.isascii() or not text.isdigit() or len(text) > 6:
            msg = (
                f"{path!r} records a garbage schema version {text[:40]!r} "
                "in its aion_meta table: the file is damaged."
            )
            raise StoreCorruptedError(msg)
        version = int(text)
        if version > SCHEMA_VERSION:
            msg = (
                f"{path!r} was written by a newer aion (schema version {version}; this "
                f"aion reads up to {SCHEMA_VERSION}): upgrade aion to open it."
            )
            raise ForeignStoreError(msg)
        if version < 1:
            msg = f"{path!r} has an unknown aion schema version {version}."
            raise ForeignStoreError(msg)
        store_id = meta.get("store_id")
        if store_id is None and not read_only and upgrade:
            # A file from before the heads log: give it the id the log is bound to.
            store_id = uuid.uuid4().hex
            con.execute("INSERT INTO aion_meta VALUES ('store_id', ?)", [store_id])
            con.execute("CHECKPOINT")
        return store_id
    if tables:
        names = ", ".join(sorted(tables)[:5])
        msg = f"{path!r} is a DuckDB database but not an aion store (it holds tables: {names})."
        raise ForeignStoreError(msg)
    if read_only:
        return None  # an empty file opened for reading: nothing to show
    con.execute("BEGIN")
    for statement in _SCHEMA:
        con.execute(statement)
    store_id = uuid.uuid4().hex
    con.execute(
        "INSERT INTO aion_meta VALUES ('app', 'aion'), ('schema_version', ?), ('store_id', ?)",
        [str(SCHEMA_VERSION), store_id],
    )
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    return store_id
