"""``aion db init``: create (or check) aion's tables in a database, before any worker runs.

On PostgreSQL this is how an operator prepares a shared database up front
(the store also creates its schema on first open); on a DuckDB path it
creates the file. An existing aion schema is checked, never changed; a
foreign or newer one is refused with exit code 3.
"""

from __future__ import annotations

import click

from aion.store import is_postgres_url, open_store
from aion.store import redact_url as redact

from .app import App
from .options import common_options


@click.group(name="db")
def db() -> None:
    """Manage the aion database itself."""


@db.command(name="init")
@common_options
@click.pass_obj
def init(app: App) -> None:
    """Create aion's schema (or check the existing one) and report its version."""
    from aion.store import SCHEMA_VERSION as DUCKDB_VERSION
    from aion.store.postgres_schema import SCHEMA_VERSION as PG_VERSION

    where = app.db
    store = open_store(where)
    store.close()
    if is_postgres_url(where):
        schema = getattr(store, "schema", "aion")
        version, shown = PG_VERSION, redact(where)
        line = f"aion schema {schema!r} (version {PG_VERSION}) is ready in {shown}"
    else:
        version, shown = DUCKDB_VERSION, where
        line = f"aion store (schema version {DUCKDB_VERSION}) is ready in {where}"
    if app.as_json:
        app.echo_json({"db": shown, "schema_version": version, "ready": True})
    else:
        app.show(line)
