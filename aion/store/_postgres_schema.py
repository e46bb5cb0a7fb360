"""The PostgreSQL store's tables: created, versioned and recognised by aion.

Everything lives in one dedicated schema (``aion`` unless told otherwise), so
aion can share a database with an application's own tables. A schema that
holds tables aion did not create, or one written by a newer aion, is refused
with `ForeignStoreError` before anything is written to it.

Creation runs in one transaction under an advisory lock keyed on the schema,
so two processes opening a fresh database at once neither race nor fail.
"""

from __future__ import annotations

import re
from typing import Final

import psycopg

from aion._errors import ForeignStoreError, StoreError

#: Version of the table layout; a schema with a higher version is refused, never migrated.
#: Version 2 added ``events.written_by`` (the worker session that wrote each event);
#: version 3 the ``posted`` markers of batches that only post inbox messages.
SCHEMA_VERSION: Final = 3

#: The tables aion creates (the meta table is the one that says a schema is aion's).
TABLES: Final = ("meta", "events", "workflows", "timers", "sessions", "inbox", "posted")
#: Tables a later schema version added: an older schema is aion's without them.
ADDED_IN: Final = {"posted": 3}

# The marker table (version 3): a batch that only posts inbox messages (an in-process
# signal to another worker's workflow) inserts its key here in the same transaction, so
# after a connection lost at COMMIT the key says whether the batch landed.
_POSTED_DDL: Final = """
    CREATE TABLE IF NOT EXISTS {s}.posted (
        batch_key text PRIMARY KEY,
        posted_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )
    """
_POSTED_INDEX: Final = "CREATE INDEX IF NOT EXISTS posted_at_idx ON {s}.posted (posted_at)"

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Text columns that are compared or sorted use the "C" collation: byte order of
# UTF-8 is code point order, which is how Python (and the other stores) sort ids.
_DDL: Final = (
    "CREATE SCHEMA IF NOT EXISTS {s}",
    "CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
    """
    CREATE TABLE {s}.sessions (
        session_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL,
        workflow_types text[] NOT NULL,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        lease_seconds double precision NOT NULL,
        lease_until timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE {s}.workflows (
        workflow_id text COLLATE "C" PRIMARY KEY,
        run_id text NOT NULL,
        workflow_type text NOT NULL,
        status text NOT NULL,
        started_at timestamptz NOT NULL,
        closed_at timestamptz,
        last_seq bigint NOT NULL,
        parent_id text,
        stalled_reason json,
        runs integer NOT NULL,
        owner bigint REFERENCES {s}.sessions (session_id) ON DELETE SET NULL,
        epoch bigint NOT NULL DEFAULT 0,
        idle boolean NOT NULL DEFAULT false
    )
    """,
    "CREATE INDEX ON {s}.workflows (started_at, workflow_id)",
    """
    CREATE INDEX ON {s}.workflows (workflow_type)
    WHERE status IN ('running', 'stalled', 'continued_as_new')
    """,
    """
    CREATE TABLE {s}.events (
        workflow_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        run_id text NOT NULL,
        kind text NOT NULL,
        ordinal integer,
        name text,
        payload json,
        recorded_at timestamptz NOT NULL,
        source text,
        digest text,
        written_by bigint,
        PRIMARY KEY (workflow_id, seq)
    )
    """,
    """
    CREATE TABLE {s}.timers (
        workflow_id text COLLATE "C" NOT NULL,
        run_id text NOT NULL,
        ordinal integer NOT NULL,
        fire_at timestamptz NOT NULL,
        kind text NOT NULL,
        PRIMARY KEY (workflow_id, run_id, ordinal)
    )
    """,
    "CREATE INDEX ON {s}.timers (fire_at)",
    """
    CREATE TABLE {s}.inbox (
        message_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workflow_id text COLLATE "C" NOT NULL,
        kind text NOT NULL,
        payload json,
        posted_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )
    """,
    "CREATE INDEX ON {s}.inbox (workflow_id)",
    _POSTED_DDL,
    _POSTED_INDEX,
)


def check_schema_name(schema: str) -> str:
    """Return ``schema`` if it is a plain lower-case identifier, else raise `StoreError`.

    Only such names are accepted so that the name can be spliced into SQL
    without quoting rules to get wrong.
    """
    if not _NAME.fullmatch(schema):
        msg = (
            f"the PostgreSQL schema name {schema!r} is not usable: use lower-case letters, "
            "digits and underscores, starting with a letter or underscore."
        )
        raise StoreError(msg)
    return schema


def prepare(conn: psycopg.Connection[tuple[object, ...]], schema: str, *, create: bool) -> bool:
    """Check (and, when ``create``, create) aion's schema; returns whether it exists.

    Raises:
        aion.ForeignStoreError: The schema holds tables that are not aion's, or was
            written by a newer aion.
    """
    with conn.transaction():
        if create:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"aion schema {schema}"])
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema]
            ).fetchall()
        }
        if "meta" in tables:
            version = _check_meta(conn, schema, tables)
            if version < SCHEMA_VERSION and create:
                _upgrade(conn, schema, version)
            return True
        if tables:
            names = ", ".join(sorted(str(t) for t in tables)[:5])
            msg = (
                f"the PostgreSQL schema {schema!r} is not an aion store (it holds tables: "
                f"{names}); pass another schema, or drop those tables."
            )
            raise ForeignStoreError(msg)
        if not create:
            return False
        for statement in _DDL:
            conn.execute(statement.format(s=schema))
        conn.execute(
            f"INSERT INTO {schema}.meta VALUES ('app', 'aion'), ('schema_version', %s)",
            [str(SCHEMA_VERSION)],
        )
        return True


def _upgrade(conn: psycopg.Connection[tuple[object, ...]], schema: str, version: int) -> None:
    """Bring an older aion schema up to date (under the creation lock, in its transaction)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"aion schema {schema}"])
    if version < 2:  # the version that added events.written_by
        conn.execute(f"ALTER TABLE {schema}.events ADD COLUMN IF NOT EXISTS written_by bigint")
    if version < 3:  # the version that added the posted markers
        conn.execute(_POSTED_DDL.format(s=schema))
        conn.execute(_POSTED_INDEX.format(s=schema))
    conn.execute(
        f"UPDATE {schema}.meta SET value = %s WHERE key = 'schema_version'",
        [str(SCHEMA_VERSION)],
    )


def _check_meta(
    conn: psycopg.Connection[tuple[object, ...]], schema: str, tables: set[object]
) -> int:
    rows = conn.execute(f"SELECT key, value FROM {schema}.meta").fetchall()
    meta = {str(k): str(v) for k, v in rows}
    try:
        version = int(meta.get("schema_version", "0"))
    except ValueError:
        version = 0
    needed = {t for t in TABLES if ADDED_IN.get(t, 1) <= version}
    if meta.get("app") != "aion" or not needed <= tables:
        msg = (
            f"the PostgreSQL schema {schema!r} is not an aion store (its meta table is "
            "foreign); pass another schema."
        )
        raise ForeignStoreError(msg)
    if version > SCHEMA_VERSION:
        msg = (
            f"the PostgreSQL schema {schema!r} was written by a newer aion (schema version "
            f"{version}; this aion reads up to {SCHEMA_VERSION}): upgrade aion to open it."
        )
        raise ForeignStoreError(msg)
    if version < 1:
        msg = f"the PostgreSQL schema {schema!r} has an unknown aion schema version {version}."
        raise ForeignStoreError(msg)
    return version
