"""A read-only DuckDB store reads histories without loading its index first.

Replaying a file (``aion.replay(fn, DuckDBStore(path, read_only=True).history(id))``)
needs one history, not every workflow's status and timers; the index is loaded
the first time a method needs it, and what it would have refused is refused
all the same (see tests/security/test_hostile_rows.py for damaged rows).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

import aion
from aion.store import _duckdb

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@aion.activity
def double(x: int) -> int:
    return 2 * x


@aion.workflow
def pair(x: int):  # type: ignore[no-untyped-def]
    a = yield aion.call(double, x)
    b = yield aion.call(double, a)
    return b


@aion.workflow
def sleeper():  # type: ignore[no-untyped-def]
    yield aion.sleep(timedelta(hours=1))


def _record(path: Path) -> None:
    engine = aion.Engine(
        str(path), workflows=[pair, sleeper], activities=[double], clock=aion.ManualClock(EPOCH)
    )
    try:
        engine.start(pair, 3, workflow_id="done")
        engine.start(sleeper, workflow_id="waiting")
        engine.run_until_idle()
        assert engine.run_until_complete("done", timeout=30) == 12
    finally:
        engine.close()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of each index load, in order."""
    seen: list[str] = []
    original = _duckdb.load_index

    def counted(con: Any, path: str, index: Any) -> Any:
        seen.append(path)
        return original(con, path, index)

    monkeypatch.setattr(_duckdb, "load_index", counted)
    return seen


def test_a_finished_history_is_read_without_the_index(tmp_path: Path, loads: list[str]) -> None:
    path = tmp_path / "s.duckdb"
    _record(path)
    loads.clear()
    store = aion.DuckDBStore(path, read_only=True)
    try:
        history = store.history("done")
        assert aion.replay(pair, history).result == 12
        assert loads == []
        info = store.info("done")  # the first need of the index loads it, once
        assert info is not None and info.status == "completed"
        assert [w.workflow_id for w in store.workflows()] == ["done", "waiting"]
        assert len(store.due_timers(EPOCH + timedelta(days=1))) == 1
        assert loads == [str(path)]
    finally:
        store.close()


def test_a_running_history_checks_what_the_index_would_refuse(
    tmp_path: Path, loads: list[str]
) -> None:
    # Its pending timer's row is what the index load checks: it is loaded for that.
    path = tmp_path / "s.duckdb"
    _record(path)
    loads.clear()
    store = aion.DuckDBStore(path, read_only=True)
    try:
        assert [type(e).__name__ for e in store.history("waiting")][-1] == "TimerStarted"
        assert loads == [str(path)]
    finally:
        store.close()


def test_a_writable_store_loads_its_index_at_open(tmp_path: Path, loads: list[str]) -> None:
    path = tmp_path / "s.duckdb"
    _record(path)
    loads.clear()
    store = aion.DuckDBStore(path)
    try:
        assert loads == [str(path)]
        store.history("done")
        assert loads == [str(path)]
    finally:
        store.close()


def test_rows_stored_out_of_seq_order_are_read_in_seq_order(tmp_path: Path) -> None:
    # aion appends in seq order, so a scan returns that order; a file another
    # program wrote may not, and is sorted on the way out.
    path = tmp_path / "s.duckdb"
    _record(path)
    store = aion.DuckDBStore(path, read_only=True)
    expected = store.history("done")
    store.close()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE shuffled AS SELECT * FROM events ORDER BY seq DESC")
    con.execute("DELETE FROM events")
    con.execute("INSERT INTO events SELECT * FROM shuffled")
    con.execute("DROP TABLE shuffled")
    scanned = con.execute("SELECT seq FROM events WHERE workflow_id = 'done'").fetchall()
    con.close()
    assert scanned[0][0] == len(expected)  # the scan alone would return them backwards
    store = aion.DuckDBStore(path, read_only=True)
    try:
        assert store.history("done") == expected
        assert [e.seq for e in expected] == list(range(1, len(expected) + 1))
    finally:
        store.close()
