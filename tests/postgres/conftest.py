"""Fixtures of the PostgreSQL tests: a store on a fresh schema, and an admin connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from aion.store import PostgresStore, open_store


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    s = open_store(pg_url)
    assert isinstance(s, PostgresStore)
    yield s
    s.close()


@pytest.fixture
def admin(pg_database: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(pg_database, autocommit=True) as con:
        yield con
