"""The PostgreSQL store's schema version (imports psycopg: ``pip install aion[postgres]``)."""

from aion.store._postgres_schema import SCHEMA_VERSION as SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION"]
