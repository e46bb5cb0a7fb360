"""One conformance suite, run against every store: MemoryStore, DuckDBStore and PostgresStore."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import aion
from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    CommandCancelled,
    ErrorInfo,
    Event,
    SignalReceived,
    TimerFired,
    TimerStarted,
    WorkflowCompleted,
    WorkflowStalled,
    WorkflowStarted,
)
from aion.store import Append, DuckDBStore, MemoryStore, Store, open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "duckdb-file", "duckdb-memory", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "postgres":
        s = open_store(request.getfixturevalue("pg_url"))
    elif request.param == "memory":
        s = MemoryStore()
    elif request.param == "duckdb-file":
        s = DuckDBStore(tmp_path / "c.duckdb")
    else:
        s = DuckDBStore(":memory:")
    yield s
    s.close()


def started(
    seq: int = 1, run: str = "r1", name: str = "flow", at: datetime = T0, **kw: object
) -> WorkflowStarted:
    return WorkflowStarted(seq=seq, run_id=run, recorded_at=at, name=name, args=[1, "x"], **kw)  # type: ignore[arg-type]


def timeline(workflow_id: str = "w") -> list[Event]:
    at = T0 + timedelta(seconds=1)
    return [
        started(),
        ActivityScheduled(
            seq=2,
            run_id="r1",
            recorded_at=at,
            ordinal=1,
            name="a",
            args=[{"k": [1, 2]}],
            source="f.py:3",
            digest="abc",
            retry={"max_attempts": 2},
        ),
        ActivityFailed(
            seq=3,
            run_id="r1",
            recorded_at=at,
            ordinal=1,
            attempt=1,
            error=ErrorInfo(type="ValueError", message="é ✓", traceback="tb"),
            retry_at=at + timedelta(seconds=5),
        ),
        ActivityCompleted(
            seq=4, run_id="r1", recorded_at=at, ordinal=1, attempt=2, result={"ok": True}
        ),
        TimerStarted(
            seq=5,
            run_id="r1",
            recorded_at=at,
            ordinal=2,
            fire_at=T0 + timedelta(hours=1),
            seconds=3600.0,
        ),
        SignalReceived(seq=6, run_id="r1", recorded_at=at, name="go", payload=None),
    ]


def test_append_and_read_back_exactly(store: Store) -> None:
    events = timeline()
    store.append([Append(workflow_id="w", expected_seq=0, events=events)])
    assert store.history("w") == events
    assert store.histories() == {"w": events}
    assert store.histories(["w", "missing"]) == {"w": events}
    assert store.history("missing") == []
    for event in store.history("w"):
        assert event.recorded_at.utcoffset() == timedelta(0)


def test_info_is_the_status_projection(store: Store) -> None:
    store.append([Append(workflow_id="w", expected_seq=0, events=timeline())])
    info = store.info("w")
    assert info is not None
    assert (info.workflow_type, info.status, info.last_seq, info.run_id, info.runs) == (
        "flow",
        "running",
        6,
        "r1",
        1,
    )
    assert info.started_at == T0 and info.closed_at is None
    later = T0 + timedelta(minutes=5)
    store.append(
        [
            Append(
                workflow_id="w",
                expected_seq=6,
                events=[
                    WorkflowStalled(seq=7, run_id="r1", recorded_at=later, reason="diverged"),
                ],
            )
        ]
    )
    stalled = store.info("w")
    assert stalled is not None and (stalled.status, stalled.stalled_reason) == (
        "stalled",
        "diverged",
    )
    store.append(
        [
            Append(
                workflow_id="w",
                expected_seq=7,
                events=[
                    WorkflowCompleted(seq=8, run_id="r1", recorded_at=later, result=3),
                ],
            )
        ]
    )
    done = store.info("w")
    assert done is not None and (done.status, done.closed_at, done.stalled_reason) == (
        "completed",
        later,
        None,
    )
    assert store.info("nope") is None


def test_optimistic_concurrency(store: Store) -> None:
    store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    with pytest.raises(
        aion.SequenceConflict, match="expected last seq 0, but the store holds 1"
    ) as err:
        store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    assert (err.value.expected, err.value.found) == (0, 1)
    with pytest.raises(aion.HistoryError, match="not contiguous: expected seq 2, got 3"):
        store.append(
            [
                Append(
                    workflow_id="w",
                    expected_seq=1,
                    events=[TimerFired(seq=3, run_id="r1", recorded_at=T0, ordinal=1)],
                )
            ]
        )
    with pytest.raises(aion.HistoryError, match="must begin with WorkflowStarted"):
        store.append(
            [
                Append(
                    workflow_id="v",
                    expected_seq=0,
                    events=[TimerFired(seq=1, run_id="r1", recorded_at=T0, ordinal=1)],
                )
            ]
        )
    assert store.history("w") == [started()]


def test_a_batch_is_all_or_nothing(store: Store) -> None:
    store.append([Append(workflow_id="a", expected_seq=0, events=[started()])])
    with pytest.raises(aion.SequenceConflict):
        store.append(
            [
                Append(workflow_id="b", expected_seq=0, events=[started()]),
                Append(
                    workflow_id="a",
                    expected_seq=5,
                    events=[TimerFired(seq=6, run_id="r1", recorded_at=T0, ordinal=1)],
                ),
            ]
        )
    assert store.history("b") == []
    assert store.info("b") is None
    store.append(
        [
            Append(workflow_id="b", expected_seq=0, events=[started()]),
            Append(
                workflow_id="a",
                expected_seq=1,
                events=[TimerFired(seq=2, run_id="r1", recorded_at=T0, ordinal=1)],
            ),
        ]
    )
    assert [len(store.history(w)) for w in "ab"] == [2, 1]


def test_list_filters_and_orders(store: Store) -> None:
    store.append(
        [
            Append(workflow_id="z", expected_seq=0, events=[started(at=T0)]),
            Append(
                workflow_id="y",
                expected_seq=0,
                events=[started(name="other", at=T0 + timedelta(seconds=1))],
            ),
            Append(workflow_id="x", expected_seq=0, events=[started(at=T0 + timedelta(seconds=2))]),
        ]
    )
    store.append(
        [
            Append(
                workflow_id="x",
                expected_seq=1,
                events=[WorkflowCompleted(seq=2, run_id="r1", recorded_at=T0, result=None)],
            )
        ]
    )
    assert [i.workflow_id for i in store.workflows()] == ["z", "y", "x"]
    assert [i.workflow_id for i in store.workflows(status="running")] == ["z", "y"]
    assert [i.workflow_id for i in store.workflows(workflow_type="flow")] == ["z", "x"]
    assert [i.workflow_id for i in store.workflows(status="completed", workflow_type="other")] == []


def test_due_timers(store: Store) -> None:
    store.append([Append(workflow_id="w", expected_seq=0, events=timeline())])
    timers = store.due_timers()
    assert [(t.ordinal, t.kind, t.fire_at) for t in timers] == [
        (2, "sleep", T0 + timedelta(hours=1))
    ]
    assert store.due_timers(T0) == []
    assert len(store.due_timers(T0 + timedelta(hours=2))) == 1
    store.append(
        [
            Append(
                workflow_id="w",
                expected_seq=6,
                events=[
                    CommandCancelled(seq=7, run_id="r1", recorded_at=T0, ordinal=2, reason="x"),
                    ActivityScheduled(
                        seq=8, run_id="r1", recorded_at=T0, ordinal=3, name="b", args=[]
                    ),
                    ActivityFailed(
                        seq=9,
                        run_id="r1",
                        recorded_at=T0,
                        ordinal=3,
                        attempt=1,
                        error=ErrorInfo(type="E", message="m"),
                        retry_at=T0 + timedelta(seconds=9),
                    ),
                ],
            )
        ]
    )
    assert [(t.ordinal, t.kind) for t in store.due_timers()] == [(3, "retry")]


def test_duckdb_store_reopens_with_its_index(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    first = DuckDBStore(path)
    first.append([Append(workflow_id="w", expected_seq=0, events=timeline())])
    first.close()
    again = DuckDBStore(path)
    try:
        assert again.history("w") == timeline()
        info = again.info("w")
        assert info is not None and info.last_seq == 6
        assert [(t.ordinal, t.kind) for t in again.due_timers()] == [(2, "sleep")]
        with pytest.raises(aion.SequenceConflict):
            again.append([Append(workflow_id="w", expected_seq=3, events=[])])
    finally:
        again.close()


def test_duckdb_refuses_files_that_are_not_aion_stores(tmp_path: Path) -> None:
    import duckdb

    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(
        aion.ForeignStoreError,
        match=r"is a DuckDB database but not an aion store \(it holds tables: customers\)",
    ):
        DuckDBStore(foreign)
    assert foreign.read_bytes() == before

    text = tmp_path / "notes.duckdb"
    text.write_text("hello, not a database\n" * 100)
    with pytest.raises(aion.StoreCorruptedError, match="it is not a DuckDB database file"):
        aion.Engine(str(text))
    assert text.read_text() == "hello, not a database\n" * 100


def test_duckdb_reports_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    with aion.Engine(str(path)) as engine:
        del engine
    store = DuckDBStore(path)
    store.append([Append(workflow_id="w", expected_seq=0, events=timeline())])
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    truncated = path.read_bytes()
    with pytest.raises(aion.StoreCorruptedError) as err:
        DuckDBStore(path)
    assert str(err.value).startswith(f"cannot open {str(path)!r}: ")
    assert path.read_bytes() == truncated


def test_duckdb_refuses_a_newer_schema(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "new.duckdb"
    DuckDBStore(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE aion_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(
        aion.ForeignStoreError, match=r"was written by a newer aion \(schema version 99"
    ):
        DuckDBStore(path)


def test_duckdb_read_only_store_refuses_appends(tmp_path: Path) -> None:
    path = tmp_path / "ro.duckdb"
    DuckDBStore(path).close()
    ro = DuckDBStore(path, read_only=True)
    try:
        with pytest.raises(aion.StoreError, match="is open read-only"):
            ro.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    finally:
        ro.close()


def test_ending_a_workflow_clears_timers_set_in_earlier_batches(store: Store) -> None:
    store.append([Append(workflow_id="w", expected_seq=0, events=timeline())])
    assert len(store.due_timers()) == 1
    store.append(
        [
            Append(
                workflow_id="w",
                expected_seq=6,
                events=[WorkflowCompleted(seq=7, run_id="r1", recorded_at=T0, result=None)],
            )
        ]
    )
    assert store.due_timers() == []
