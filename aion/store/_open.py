"""Where a database path or URL becomes a store: the engine and the CLI both ask here.

A ``postgresql://`` (or ``postgres://``) URL opens a `PostgresStore` (which
needs ``pip install aion[postgres]``); anything else is a DuckDB file, the
embedded default.
"""

from __future__ import annotations

from aion._errors import ConfigurationError
from aion.store._postgres_url import is_postgres_url, split_schema
from aion.store._protocol import Store


def open_store(target: str, *, read_only: bool = False) -> Store:
    """Open the store ``target`` names: a PostgreSQL URL or a DuckDB file path.

    Raises:
        aion.ConfigurationError: A PostgreSQL URL was given but psycopg is not installed.
        aion.StoreError: The store cannot be opened.
    """
    if is_postgres_url(target):
        try:
            from aion.store._postgres import PostgresStore
        except ImportError:
            msg = (
                f"{target.split('://', 1)[0]}:// needs the PostgreSQL driver: "
                "pip install 'aion[postgres]'."
            )
            raise ConfigurationError(msg) from None
        dsn, schema = split_schema(target)
        return PostgresStore(dsn, schema=schema, read_only=read_only)
    from aion.store._duckdb import DuckDBStore  # here: only a DuckDB file needs duckdb

    return DuckDBStore(target, read_only=read_only)
