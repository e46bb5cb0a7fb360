"""Opening a DuckDB file compares its catalog with aion's schema without a second database.

The comparison text is pinned (`aion.store._schema.RENDERED`); the in-memory
rendering (`reference_sql`) is only asked for when a file's text differs, so a
file written by another DuckDB that renders the schema differently still opens
and a changed table is still refused.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

import aion
from aion.store import _catalog, _schema


def test_the_pinned_rendering_is_this_duckdbs() -> None:
    # When a DuckDB upgrade renders the schema differently, files still open (through
    # reference_sql), but every open pays for it again: update RENDERED.
    assert _schema.reference_sql() == _schema.RENDERED


def test_opening_an_aion_file_renders_no_reference(tmp_path: Path) -> None:
    path = str(tmp_path / "a.duckdb")
    aion.DuckDBStore(path).close()
    with mock.patch.object(_schema, "reference_sql", side_effect=AssertionError("rendered")):
        aion.DuckDBStore(path, read_only=True).close()
        aion.DuckDBStore(path).close()


def test_another_rendering_of_the_schema_is_checked_against_this_duckdbs(tmp_path: Path) -> None:
    path = str(tmp_path / "a.duckdb")
    aion.DuckDBStore(path).close()
    other = {k: v.replace("CREATE", "create", 1) for k, v in _schema.RENDERED.items()}
    with mock.patch.object(_schema, "RENDERED", other):
        aion.DuckDBStore(path, read_only=True).close()  # matches reference_sql: opens


def test_a_changed_table_is_still_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "a.duckdb")
    aion.DuckDBStore(path).close()
    con = _catalog.connect(path, read_only=False)
    con.execute("ALTER TABLE events ADD COLUMN extra VARCHAR")
    con.close()
    with pytest.raises(aion.StoreCorruptedError, match="events"):
        aion.DuckDBStore(path, read_only=True)
