"""`aion sql` on PostgreSQL: a READ ONLY transaction, one statement, rolled back."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import run_aion
from tests.postgres_fixture import pg_database, pg_url

__all__ = ["pg_database", "pg_url"]


def test_sql_reads_postgres_and_changes_nothing(pg_url: str) -> None:
    assert run_aion("--db", pg_url, "db", "init").returncode == 0
    counted = run_aion("--db", pg_url, "sql", "SELECT count(*) AS n FROM events", "--json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == [{"n": 0}]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("DELETE FROM events", "read-only transaction"),
        ("SELECT 1; DELETE FROM events", "multiple commands"),
        ("COMMIT", "exactly one SELECT"),
    ],
)
def test_sql_on_postgres_refuses_writes(pg_url: str, query: str, why: str) -> None:
    assert run_aion("--db", pg_url, "db", "init").returncode == 0
    result = run_aion("--db", pg_url, "sql", query)
    assert result.returncode == 2, result
    assert why in result.stderr and "Traceback" not in result.stderr
