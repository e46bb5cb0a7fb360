"""Fault injection at the store: DuckDB's TransactionException and FatalException.

Every test runs a real engine on a real DuckDB file through `FaultyStore`,
which makes a chosen append fail inside the real store code. The engine must
retry what is retryable, reopen the database after a fatal error, never
record half a step (no gaps, no duplicates) and never wake a workflow with
an outcome that was not committed.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import aion
from aion._events import ActivityCompleted, SignalReceived
from aion.testing.faults import Fault, FaultyStore

RAN: list[str] = []


@aion.activity(retry=aion.RetryPolicy(max_attempts=3, initial_interval=timedelta(seconds=0.01)))
def step(label: str) -> str:
    RAN.append(label)
    return label.upper()


@aion.workflow
def flow(name: str) -> Any:
    first = yield aion.call(step, f"{name}-a")
    yield aion.sleep(timedelta(seconds=1))
    got = yield aion.receive_signal("go")
    second = yield aion.call(step, f"{name}-b")
    return [first, got, second]


@pytest.fixture(autouse=True)
def _reset() -> None:
    RAN.clear()


def run(store: FaultyStore, *, signal_retries: int = 0) -> Any:
    """Start ``flow``, drive it to the signal, send it (retrying), and finish it."""
    clock = aion.ManualClock()
    engine = aion.Engine(store=store, workflows=[flow], activities=[step], clock=clock)
    engine.start(flow, "x", workflow_id="w")
    with pytest.raises(aion.WorkflowBlocked):
        engine.run_until_complete("w")
    for attempt in range(signal_retries + 1):
        try:
            engine.signal("w", "go", "sig")
            break
        except aion.StoreConflictError:
            if attempt == signal_retries:
                raise
    result = engine.run_until_complete("w")
    engine.close()
    return result


def kinds(store: FaultyStore) -> list[str]:
    return [type(e).__name__ for e in store.history("w")]


def check_history(store: FaultyStore, reference: list[str]) -> None:
    events = store.history("w")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert kinds(store) == reference


@pytest.fixture
def reference(tmp_path: Path) -> tuple[list[str], list[list[str]]]:
    """The event kinds of a fault-free run, and the kinds each append wrote."""
    store = FaultyStore(tmp_path / "clean.duckdb")
    assert run(store) == ["X-A", "sig", "X-B"]
    out = kinds(store), store.kinds
    store.close()
    RAN.clear()
    return out


def append_with(batches: list[list[str]], kind: str) -> int:
    """The 1-based number of the append that wrote an event of ``kind``."""
    return next(i for i, b in enumerate(batches, start=1) if kind in b)


@pytest.mark.parametrize("point", ["append", "commit"])
@pytest.mark.parametrize("kind", ["ActivityCompleted", "TimerFired", "SignalReceived"])
def test_conflict_is_retried(tmp_path: Path, reference: Any, point: str, kind: str) -> None:
    events, batches = reference
    at = append_with(batches, kind)
    store = FaultyStore(tmp_path / "db.duckdb", [Fault(at=at, point=point, error="transaction")])
    assert run(store) == ["X-A", "sig", "X-B"]
    assert len(store.injected) == 1
    assert store.reopens == 0
    check_history(store, events)
    assert RAN == ["x-a", "x-b"]
    store.close()


@pytest.mark.parametrize("point", ["append", "commit"])
@pytest.mark.parametrize("kind", ["ActivityScheduled", "ActivityCompleted", "SignalReceived"])
def test_fatal_error_reopens_and_retries(
    tmp_path: Path, reference: Any, point: str, kind: str
) -> None:
    events, batches = reference
    at = append_with(batches, kind)
    store = FaultyStore(tmp_path / "db.duckdb", [Fault(at=at, point=point, error="fatal")])
    assert run(store) == ["X-A", "sig", "X-B"]
    assert [f.error for f in store.injected] == ["fatal"]
    assert store.reopens == 1
    check_history(store, events)
    assert RAN == ["x-a", "x-b"]
    store.close()


@pytest.mark.parametrize("kind", ["WorkflowStarted", "ActivityCompleted", "SignalReceived"])
def test_fatal_error_after_a_durable_commit_is_not_written_twice(
    tmp_path: Path, reference: Any, kind: str
) -> None:
    events, batches = reference
    at = append_with(batches, kind)
    fault = Fault(at=at, point="commit", error="fatal", landed=True)
    store = FaultyStore(tmp_path / "db.duckdb", [fault])
    assert run(store) == ["X-A", "sig", "X-B"]
    assert store.reopens == 1
    check_history(store, events)  # a second write would duplicate seqs or shift kinds
    assert RAN == ["x-a", "x-b"]
    store.close()


def test_persistent_conflict_rejects_the_signal_and_records_nothing(
    tmp_path: Path, reference: Any
) -> None:
    """Five conflicts in a row exhaust the retries: the caller is told, and nothing is recorded."""
    events, batches = reference
    at = append_with(batches, "SignalReceived")
    faults = [Fault(at=at + i, point="commit") for i in range(5)]
    store = FaultyStore(tmp_path / "db.duckdb", faults)
    clock = aion.ManualClock()
    engine = aion.Engine(store=store, workflows=[flow], activities=[step], clock=clock)
    engine.start(flow, "x", workflow_id="w")
    with pytest.raises(aion.WorkflowBlocked):
        engine.run_until_complete("w")
    with pytest.raises(aion.StoreConflictError) as info:
        engine.signal("w", "go", "lost")
    assert str(info.value) == (
        f"cannot append to {str(tmp_path / 'db.duckdb')!r}: the transaction was rolled back "
        "(TransactionContext Error: injected conflict at COMMIT: Conflict on update!)."
    )
    assert len(store.injected) == 5
    engine.run_until_idle()
    assert not any(isinstance(e, SignalReceived) for e in store.history("w"))
    assert RAN == ["x-a"]  # the workflow was not woken by the rejected signal
    engine.signal("w", "go", "sig")
    assert engine.run_until_complete("w") == ["X-A", "sig", "X-B"]
    assert [e.payload for e in store.history("w") if isinstance(e, SignalReceived)] == ["sig"]
    check_history(store, events)
    engine.close()
    store.close()


def test_uncommitted_activity_outcome_never_wakes_the_workflow(
    tmp_path: Path, reference: Any
) -> None:
    """The completion of x-a fails to commit five times: x-b must not run until it commits."""
    events, batches = reference
    at = append_with(batches, "ActivityCompleted")
    store = FaultyStore(tmp_path / "db.duckdb", [Fault(at=at + i) for i in range(5)])
    clock = aion.ManualClock()
    engine = aion.Engine(store=store, workflows=[flow], activities=[step], clock=clock)
    engine.start(flow, "x", workflow_id="w")
    with pytest.raises(aion.StoreConflictError):
        engine.run_until_idle()
    assert not any(isinstance(e, ActivityCompleted) for e in store.history("w"))
    assert engine.describe("w").pending  # still waiting on the activity
    engine.run_until_idle()  # the queued outcome commits now
    assert [e.result for e in store.history("w") if isinstance(e, ActivityCompleted)] == ["X-A"]
    engine.signal("w", "go", "sig")
    assert engine.run_until_complete("w") == ["X-A", "sig", "X-B"]
    assert RAN == ["x-a", "x-b"]
    history = store.history("w")
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert sorted(kinds(store)) == sorted(events)  # the signal came before the timer here
    engine.close()
    store.close()


def test_unrecoverable_fatal_error_stops_the_engine_and_a_restart_recovers(
    tmp_path: Path, reference: Any
) -> None:
    events, batches = reference
    at = append_with(batches, "SignalReceived")
    path = tmp_path / "db.duckdb"
    store = FaultyStore(path, [Fault(at=at, error="fatal", reopen_fails=1)])
    clock = aion.ManualClock()
    engine = aion.Engine(store=store, workflows=[flow], activities=[step], clock=clock)
    engine.start(flow, "x", workflow_id="w")
    with pytest.raises(aion.WorkflowBlocked):
        engine.run_until_complete("w")
    with pytest.raises(aion.StoreInvalidatedError) as info:
        engine.signal("w", "go", "sig")
    assert str(info.value) == (
        f"cannot append to {str(path)!r}: the database hit a fatal error and must be reopened "
        "(FATAL Error: injected fatal error at COMMIT (simulated: No space left)). Reopening "
        f'failed too (cannot open {str(path)!r}: IO Error: injected: could not open "{path}": '
        "No space left on device.); whether the last batch was recorded is unknown until the "
        "engine is restarted on this file."
    )
    with pytest.raises(aion.ConfigurationError, match="this engine is closed"):
        engine.signal("w", "go", "again")
    store.close()
    # A restart recovers from the file: the signal was not recorded, so it is sent again.
    with aion.Engine(str(path), workflows=[flow], activities=[step], clock=clock) as again:
        assert not any(isinstance(e, SignalReceived) for e in again.history("w"))
        again.signal("w", "go", "sig")
        assert again.run_until_complete("w") == ["X-A", "sig", "X-B"]
        assert [type(e).__name__ for e in again.history("w")] == events
    assert RAN == ["x-a", "x-b"]


def test_serve_survives_faults_while_other_threads_signal(tmp_path: Path) -> None:
    """A serving engine with faults sprinkled over its appends loses and doubles nothing."""

    @aion.workflow(name="counter")
    def counter(n: int) -> Any:
        seen = []
        for _ in range(n):
            seen.append((yield aion.receive_signal("tick")))
        return sorted(seen)

    faults = [Fault(at=i, error="transaction") for i in range(3, 60, 7)]
    faults += [Fault(at=i, error="fatal", landed=bool(i % 2)) for i in range(5, 60, 11)]
    store = FaultyStore(tmp_path / "db.duckdb", faults)
    engine = aion.Engine(store=store, workflows=[counter])
    handles = [engine.start(counter, 10, workflow_id=f"c{w}") for w in range(4)]
    stop = threading.Event()
    server = threading.Thread(target=engine.serve, args=(stop,))
    server.start()
    accepted: list[tuple[str, int]] = []
    lock = threading.Lock()

    def sender(t: int) -> None:
        for i in range(10):
            target = f"c{(t + i) % 4}"
            payload = t * 100 + i
            while True:
                try:
                    engine.signal(target, "tick", payload)
                    break
                except aion.StoreConflictError:
                    continue  # rejected, nothing recorded: send again
            with lock:
                accepted.append((target, payload))

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = {h.id: h.result(timeout=30) for h in handles}
    stop.set()
    server.join()
    assert store.injected
    for w in range(4):
        expected = sorted(p for target, p in accepted if target == f"c{w}")
        assert results[f"c{w}"] == expected
        events = store.history(f"c{w}")
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        received = [e.payload for e in events if isinstance(e, SignalReceived)]
        assert sorted(received) == expected
    engine.close()
    store.close()
