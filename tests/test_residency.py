"""``Engine(max_resident=N)``: idle workflows are evicted and rebuilt by replay when they wake."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import aion
from aion.store import MemoryStore


@aion.activity
def double(x: int) -> int:
    return 2 * x


@aion.workflow
def napper(x: int):  # type: ignore[no-untyped-def]
    first = yield aion.call(double, x)
    yield aion.sleep(timedelta(hours=1))
    extra = yield aion.receive_signal("more")
    second = yield aion.call(double, first + extra)
    return second


def resident(engine: aion.Engine) -> int:
    return sum(
        1
        for i in engine._runtime.state.instances.values()
        if i.interp is not None and i.status == "running"
    )


def make(store: Any, clock: aion.ManualClock, limit: int | None) -> aion.Engine:
    return aion.Engine(
        store=store, workflows=[napper], activities=[double], clock=clock, max_resident=limit
    )


def test_evicted_workflows_wake_on_timers_and_signals_with_the_same_results() -> None:
    clock = aion.ManualClock()
    engine = make(MemoryStore(), clock, 3)
    ids = [engine.start(napper, i, workflow_id=f"n-{i}").id for i in range(10)]
    engine.run_until_idle()
    assert resident(engine) <= 3  # the rest sleep evicted, their timers armed
    clock.advance(timedelta(hours=2))
    engine.run_until_idle()
    assert resident(engine) <= 3
    for i, wid in enumerate(ids):
        engine.signal(wid, "more", i)
    results = [engine.run_until_complete(wid, timeout=30) for wid in ids]
    assert results == [2 * (2 * i + i) for i in range(10)]
    # Histories are those an unbounded engine records.
    clock2 = aion.ManualClock(start=clock.now() - timedelta(hours=2))
    unbounded = make(MemoryStore(), clock2, None)
    unbounded.start(napper, 4, workflow_id="n-4")
    unbounded.run_until_idle()
    clock2.advance(timedelta(hours=2))
    unbounded.run_until_idle()
    unbounded.signal("n-4", "more", 4)
    assert unbounded.run_until_complete("n-4", timeout=30) == results[4]
    kinds = [type(e).__name__ for e in engine.history("n-4")]
    assert kinds == [type(e).__name__ for e in unbounded.history("n-4")]


def test_recovery_respects_max_resident(tmp_path: Any) -> None:
    path = str(tmp_path / "r.duckdb")
    clock = aion.ManualClock()
    first = aion.Engine(path, workflows=[napper], activities=[double], clock=clock)
    ids = [first.start(napper, i, workflow_id=f"n-{i}").id for i in range(8)]
    first.run_until_idle()
    first.close()
    engine = aion.Engine(path, workflows=[napper], activities=[double], clock=clock, max_resident=2)
    try:
        assert resident(engine) <= 2
        assert len(engine.store.due_timers()) == 8
        clock.advance(timedelta(hours=2))
        for wid in ids:
            engine.signal(wid, "more", 1)
        assert [engine.run_until_complete(w, timeout=30) for w in ids] == [
            2 * (2 * i + 1) for i in range(8)
        ]
    finally:
        engine.close()


def test_max_resident_must_be_positive() -> None:
    with pytest.raises(aion.ConfigurationError):
        aion.Engine(store=MemoryStore(), max_resident=0)
