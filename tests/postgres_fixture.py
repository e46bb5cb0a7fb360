"""A real PostgreSQL database for the test session: created fresh, dropped at the end.

The server is the one ``AION_TEST_POSTGRES`` names (default
``postgresql://postgres@127.0.0.1:5432/postgres``: the project's machines run
one there, and ``.ci/run`` starts a throwaway cluster where none answers).
The fixtures never skip: no server is an error that says what to do.

* ``pg_database``: the session's database URL (unique name, dropped at exit);
* ``pg_url``: a URL of that database with a fresh ``aion_schema`` per test,
  so tests never see each other's tables.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
_schemas = itertools.count(1)


def server_dsn() -> str:
    """The server's maintenance DSN the tests create their database through."""
    return os.environ.get("AION_TEST_POSTGRES", DEFAULT_DSN)


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database for this test session; its URL."""
    import psycopg

    dsn = server_dsn()
    problem = None
    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if problem is not None:
        pytest.fail(
            f"no PostgreSQL server answers at {dsn!r} ({problem}). Start one (the CI script "
            "does: bash .ci/run), or point AION_TEST_POSTGRES at a server with trust auth.",
            pytrace=False,
        )
    name = f"aion_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(dsn, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session database's URL with a schema of its own for this test."""
    return f"{pg_database}?aion_schema=t{next(_schemas)}_{uuid.uuid4().hex[:6]}"
