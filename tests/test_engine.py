"""The engine end to end on real stores: activities, durable timers, signals, retries."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

import aion
from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    SignalAwaited,
    SignalReceived,
    TimerFired,
    TimerStarted,
    WorkflowCompleted,
    WorkflowStarted,
)

CALLS: list[str] = []


@aion.activity
def reserve(item: str) -> str:
    CALLS.append(f"reserve:{item}")
    return f"res-{item}"


@aion.activity
def charge(order_id: str, cents: int) -> dict[str, Any]:
    CALLS.append(f"charge:{order_id}")
    return {"receipt": f"r-{order_id}", "cents": cents}


@aion.activity
async def notify(text: str) -> str:
    await asyncio.sleep(0)
    CALLS.append(f"notify:{text}")
    return text.upper()


@aion.workflow
def order(order_id: str, cents: int):  # type: ignore[no-untyped-def]
    reservation = yield aion.call(reserve, order_id)
    receipt = yield aion.call(charge, order_id, cents)
    yield aion.sleep(timedelta(days=30))
    approved = yield aion.receive_signal("approve")
    note = yield aion.call(notify, f"{order_id} approved={approved}")
    return {"reservation": reservation, "receipt": receipt, "note": note}


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


def line_of(fn: Any, text: str) -> int:
    """The line number of the first source line of ``fn`` containing ``text``."""
    import inspect

    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def kinds(history: list[Any]) -> list[str]:
    return [type(e).__name__ for e in history]


def test_three_activities_30_day_sleep_and_signal_under_manual_clock(
    tmp_path: Path, epoch: datetime
) -> None:
    clock = aion.ManualClock(start=epoch)
    started = time.perf_counter()
    with aion.Engine(
        str(tmp_path / "x.duckdb"),
        workflows=[order],
        activities=[reserve, charge, notify],
        clock=clock,
    ) as engine:
        handle = engine.start(order, "o-1", 1299, workflow_id="order-o-1")
        with pytest.raises(aion.WorkflowBlocked, match="signal 'approve'"):
            engine.run_until_complete("order-o-1")
        assert clock.now() == epoch + timedelta(days=30)
        engine.signal("order-o-1", "approve", True)
        result = handle.result()
        history = engine.history("order-o-1")
    wall = time.perf_counter() - started
    assert result == {
        "reservation": "res-o-1",
        "receipt": {"receipt": "r-o-1", "cents": 1299},
        "note": "O-1 APPROVED=TRUE",
    }
    assert wall < 5  # virtual time: 30 days pass without waiting
    assert kinds(history) == [
        "WorkflowStarted",
        "ActivityScheduled",
        "ActivityCompleted",
        "ActivityScheduled",
        "ActivityCompleted",
        "TimerStarted",
        "TimerFired",
        "SignalAwaited",
        "SignalReceived",
        "ActivityScheduled",
        "ActivityCompleted",
        "WorkflowCompleted",
    ]
    assert [e.seq for e in history] == list(range(1, 13))
    timer = history[5]
    assert isinstance(timer, TimerStarted)
    assert timer.fire_at == epoch + timedelta(days=30)
    assert timer.source.endswith(f"test_engine.py:{line_of(order, 'aion.sleep(')}")
    assert all(e.recorded_at.tzinfo is not None for e in history)
    assert [e.ordinal for e in history if isinstance(e, ActivityScheduled)] == [1, 2, 5]
    assert CALLS == ["reserve:o-1", "charge:o-1", "notify:o-1 approved=True"]


def test_replay_of_a_completed_history_runs_no_activity(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(),
        workflows=[order],
        activities=[reserve, charge, notify],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        engine.start(order, "o-2", 5, workflow_id="o-2")
        engine.run_until_idle()
        engine.signal("o-2", "approve", False)
        expected = engine.run_until_complete("o-2")
        history = engine.history("o-2")
    CALLS.clear()
    result = aion.replay(order, history)
    assert result.ok and result.status == "completed"
    assert result.result == expected
    assert result.stopped_at == len(history)
    assert CALLS == []


def test_events_are_json_in_duckdb(tmp_path: Path, epoch: datetime) -> None:
    path = str(tmp_path / "j.duckdb")
    with aion.Engine(
        path,
        workflows=[order],
        activities=[reserve, charge, notify],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        engine.start(order, "o-3", 7, workflow_id="o-3")
        engine.run_until_idle()
    import duckdb

    con = duckdb.connect(path, read_only=True)
    try:
        rows = con.execute(
            "SELECT seq, kind, payload->>'$.result.receipt' FROM events "
            "WHERE workflow_id = 'o-3' AND kind = 'ActivityCompleted' ORDER BY seq"
        ).fetchall()
        started = con.execute(
            "SELECT payload->>'$.format_version', payload->>'$.semantics_version' FROM events "
            "WHERE kind = 'WorkflowStarted'"
        ).fetchone()
    finally:
        con.close()
    assert rows[1] == (5, "ActivityCompleted", "r-o-3")
    assert started == ("1", "2")


@aion.activity(
    retry=aion.RetryPolicy(max_attempts=3, initial_interval=timedelta(seconds=10), backoff=3.0)
)
def flaky(n: int) -> int:
    attempt = aion.activity_info().attempt
    CALLS.append(f"flaky:{attempt}")
    if attempt < 3:
        raise ConnectionError(f"try {attempt}")
    return n


@aion.activity(retry=aion.RetryPolicy(max_attempts=5, non_retryable=["ValueError"]))
def fatal(n: int) -> int:
    CALLS.append("fatal")
    raise ValueError(f"bad {n}")


@aion.workflow
def retrying():  # type: ignore[no-untyped-def]
    value = yield aion.call(flaky, 7)
    try:
        yield aion.call(fatal, 1)
    except aion.ActivityError as err:
        return {
            "value": value,
            "cause": err.cause_type,
            "attempts": err.attempts,
            "msg": err.message,
        }
    return None


def test_retries_wait_on_durable_backoff_timers(epoch: datetime) -> None:
    clock = aion.ManualClock(start=epoch)
    with aion.Engine(
        store=aion.MemoryStore(), workflows=[retrying], activities=[flaky, fatal], clock=clock
    ) as engine:
        engine.start(retrying, workflow_id="r")
        result = engine.run_until_complete("r")
        history = engine.history("r")
    assert result == {"value": 7, "cause": "ValueError", "attempts": 1, "msg": "bad 1"}
    failures = [e for e in history if isinstance(e, ActivityFailed)]
    assert [(f.attempt, f.retry_at) for f in failures] == [
        (1, epoch + timedelta(seconds=10)),
        (2, epoch + timedelta(seconds=10 + 30)),
        (1, None),
    ]
    assert CALLS == ["flaky:1", "flaky:2", "flaky:3", "fatal"]
    assert clock.now() == epoch + timedelta(seconds=40)


@aion.activity(
    timeout=timedelta(seconds=0.2),
    retry=aion.RetryPolicy(max_attempts=2, initial_interval=timedelta(0)),
)
def hangs() -> str:
    if aion.activity_info().attempt == 1:
        time.sleep(1.0)
    return "second"


@aion.workflow
def timing_out():  # type: ignore[no-untyped-def]
    return (yield aion.call(hangs))


def test_activity_timeout_is_a_retryable_failure() -> None:
    with aion.Engine(
        store=aion.MemoryStore(), workflows=[timing_out], activities=[hangs]
    ) as engine:
        engine.start(timing_out, workflow_id="t")
        assert engine.run_until_complete("t", timeout=10) == "second"
        failed = [e for e in engine.history("t") if isinstance(e, ActivityFailed)]
    assert failed[0].error.type == "aion.ActivityTimeout"
    assert "ran past its timeout of 0.2s" in failed[0].error.message


@attrs.frozen
class Money:
    amount: int
    currency: str


@aion.activity
def price(item: str) -> Money:
    return Money(amount=len(item) * 100, currency="EUR")


@aion.workflow
def typed(item: str):  # type: ignore[no-untyped-def]
    money = yield aion.call(price, item)
    assert isinstance(money, Money)
    return money


def test_results_decode_into_annotated_types_live_and_on_replay() -> None:
    with aion.Engine(store=aion.MemoryStore(), workflows=[typed], activities=[price]) as engine:
        engine.start(typed, "abc", workflow_id="m")
        # the engine returns the recorded JSON value, the same before and after a restart
        assert engine.run_until_complete("m") == {"amount": 300, "currency": "EUR"}
        history = engine.history("m")
    replayed = aion.replay(typed, history, registry=aion.Replayer([typed], [price]).registry)
    assert replayed.result == Money(300, "EUR")


@aion.workflow
def deterministic_values():  # type: ignore[no-untyped-def]
    first = yield aion.now()
    r = yield aion.random()
    u = yield aion.uuid4()
    yield aion.sleep(60)
    second = yield aion.now()
    return [first.isoformat(), r, str(u), second.isoformat()]


def test_now_random_uuid_are_identical_live_and_replayed(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(),
        workflows=[deterministic_values],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        engine.start(deterministic_values, workflow_id="d")
        live = engine.run_until_complete("d")
        history = engine.history("d")
    assert live[0] == epoch.isoformat()
    assert live[3] == (epoch + timedelta(seconds=60)).isoformat()
    assert 0 <= live[1] < 1
    replayed = aion.replay(deterministic_values, history, workflow_id="d")
    assert replayed.result == live
    # seeded from (workflow id, run id, ordinal): another workflow draws other values
    other = aion.replay(deterministic_values, history, workflow_id="other")
    assert other.result[1] != live[1]


@aion.workflow
def early_signals():  # type: ignore[no-untyped-def]
    yield aion.sleep(10)
    a = yield aion.receive_signal("x")
    b = yield aion.receive_signal("x")
    return [a, b]


def test_signals_sent_from_threads_are_buffered_in_order(epoch: datetime) -> None:
    clock = aion.ManualClock(start=epoch)
    with aion.Engine(store=aion.MemoryStore(), workflows=[early_signals], clock=clock) as engine:
        engine.start(early_signals, workflow_id="s")
        thread = threading.Thread(target=lambda: engine.signal("s", "x", 1))
        thread.start()
        thread.join()
        engine.signal("s", "x", 2)
        assert engine.run_until_complete("s") == [1, 2]
        history = engine.history("s")
    received = [e for e in history if isinstance(e, SignalReceived)]
    awaited = [e for e in history if isinstance(e, SignalAwaited)]
    assert received[0].seq < awaited[0].seq  # recorded on arrival, before any receive


def test_describe_and_list(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(), workflows=[early_signals], clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(early_signals, workflow_id="s1")
        engine.run_until_idle()
        d = engine.describe("s1")
        assert d.status == "running"
        assert d.workflow_type == "early_signals"
        assert len(d.pending) == 1 and d.pending[0].startswith("timer #1 sleep 10s at ")
        assert [t.kind for t in d.timers] == ["sleep"]
        assert [i.workflow_id for i in engine.list(status="running")] == ["s1"]
        assert engine.list(status="completed") == []


def test_history_events_are_typed_and_contiguous(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(), workflows=[early_signals], clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(early_signals, workflow_id="h")
        engine.signal("h", "x", "a")
        engine.signal("h", "x", "b")
        engine.run_until_complete("h")
        history = engine.history("h")
    assert isinstance(history[0], WorkflowStarted)
    assert isinstance(history[-1], WorkflowCompleted)
    assert any(isinstance(e, TimerFired) for e in history)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert all(isinstance(e, ActivityCompleted) is False for e in history)
    assert history[0].recorded_at == epoch.astimezone(UTC)


def test_finished_workflows_leave_memory_but_still_answer(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(),
        workflows=[deterministic_values],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        for i in range(20):
            engine.start(deterministic_values, workflow_id=f"f{i}")
            engine.run_until_complete(f"f{i}")
        # A long-lived worker does not grow with finished work.
        assert engine._runtime.state.instances == {}
        assert engine.describe("f3").status == "completed"
        assert engine.run_until_complete("f3")[0] == (epoch + timedelta(minutes=3)).isoformat()


class _CountingStore(aion.DuckDBStore):
    """A real DuckDB store that counts its commits."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.appends = 0

    def append(self, batch: Any) -> None:
        self.appends += 1
        super().append(batch)


@aion.workflow(name="engine.parked")
def parked() -> Any:
    yield aion.receive_signal("never")


class _KindCountingStore(aion.DuckDBStore):
    """A real DuckDB store that records, per commit, whether it held a start."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.commits: list[bool] = []

    def append(self, batch: Any) -> None:
        super().append(batch)
        self.commits.append(
            any(isinstance(e, aion.events.WorkflowStarted) for a in batch for e in a.events)
        )


def _parked_at_its_signal(engine: aion.Engine, workflow_id: str) -> bool:
    history = engine.store.history(workflow_id)
    return type(history[-1]).__name__ == "SignalAwaited"


def _eventually(done: Callable[[], bool], what: str = "", seconds: float = 30) -> None:
    """Wait until ``done()`` holds; fail saying ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _serving(engine: aion.Engine) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    server = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    server.start()
    return stop, server


def test_a_serving_engine_commits_concurrent_starts_with_the_first_decisions_together(
    tmp_path: Path,
) -> None:
    """8 threads start 320 workflows on a serving engine: starts share commits, and the
    first decisions of the runs they began ride along with the next starts."""
    store = _KindCountingStore(str(tmp_path / "served-starts.duckdb"))
    engine = aion.Engine(store=store, workflows=[parked])
    stop, server = _serving(engine)
    go = threading.Barrier(8)
    durable: list[bool] = []

    def run(t: int) -> None:
        go.wait()
        for i in range(40):
            handle = engine.start(parked, workflow_id=f"s{t}-{i}")
            durable.append(store.info(handle.id) is not None)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        _eventually(lambda: all(_parked_at_its_signal(engine, f"s{t}-39") for t in range(8)))
        assert durable == [True] * 320
        # Ungrouped that is 640 commits (a start, then its first decision); callers
        # queueing on the lock held it to ~180. Now about 40-50.
        assert len(store.commits) < 128, len(store.commits)
        assert sum(1 for held_start in store.commits if not held_start) < 16, store.commits
    finally:
        stop.set()
        server.join()
        engine.close()
        store.close()


def test_one_thread_starting_on_a_serving_engine_pays_about_one_commit_per_start(
    tmp_path: Path,
) -> None:
    """A lone caller's next start is committed with the previous run's first decision."""
    store = _KindCountingStore(str(tmp_path / "lone-starts.duckdb"))
    engine = aion.Engine(store=store, workflows=[parked])
    stop, server = _serving(engine)
    try:
        for i in range(60):
            engine.start(parked, workflow_id=f"l{i}")
        _eventually(lambda: _parked_at_its_signal(engine, "l59"))
        assert len(store.commits) < 90, store.commits  # 120 without the merge
        assert all(_parked_at_its_signal(engine, f"l{i}") for i in range(60))
    finally:
        stop.set()
        server.join()
        engine.close()
        store.close()


def test_a_start_from_the_serving_thread_itself_is_committed_there(tmp_path: Path) -> None:
    """A log handler runs on the serving loop's thread, under its lock: a start it makes
    cannot wait for that loop to commit it (it would wait for itself), so it commits it."""
    engine = aion.Engine(str(tmp_path / "self-start.duckdb"), workflows=[parked])
    made: list[str] = []

    class StartsAnother(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "workflow_id", None) == "first" and not made:
                made.append(engine.start(parked, workflow_id="second").id)

    handler = StartsAnother()
    log = logging.getLogger("aion")
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    stop, server = _serving(engine)
    try:
        engine.start(parked, workflow_id="first")
        _eventually(lambda: bool(made), "the serving loop is stuck on its own start", 10)
        assert engine.store.info("second") is not None
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        stop.set()
        server.join(timeout=10)
        if not server.is_alive():  # a loop stuck on itself holds the lock close needs
            engine.close()


def test_starts_from_many_threads_share_commits_and_each_returns_durable(tmp_path: Path) -> None:
    """Starts go through the inbox: concurrent callers are grouped into one commit."""
    store = _CountingStore(str(tmp_path / "starts.duckdb"))
    engine = aion.Engine(store=store, workflows=[parked])
    go = threading.Barrier(8)
    durable: list[bool] = []

    def run(t: int) -> None:
        go.wait()
        for i in range(40):
            handle = engine.start(parked, workflow_id=f"t{t}-{i}")
            durable.append(handle.id in {w.workflow_id for w in engine.list()})

    threads = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert durable == [True] * 320  # each start was committed when its call returned
        assert len(engine.list()) == 320
        assert store.appends < 320, store.appends  # one commit per start before grouping
        with pytest.raises(aion.WorkflowAlreadyExists, match="'t0-0' already exists"):
            engine.start(parked, workflow_id="t0-0")
    finally:
        engine.close()
        store.close()
