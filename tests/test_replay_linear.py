"""Replay cost is linear in history length: counted work per event, never wall time.

For histories of about 100, 1,000 and 5,000 events, replayed from a DuckDB
store, we count what replay does: store statements, row decodes, digests,
result decodes, and the interpreter's own steps (feeds, resumes, settles).
Each count divided by the number of events must stay flat as histories grow
(a little fixed cost amortises at 100 events, so per-event counts may only
fall). These counts are deterministic, so the guard cannot flake.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import aion
from aion import _codec, _rowcodec
from aion._definitions import Registry, workflow_definition
from aion._events import (
    ActivityCompleted,
    ActivityScheduled,
    Event,
    SignalAwaited,
    SignalReceived,
    TimerFired,
    TimerStarted,
    WorkflowStarted,
)
from aion._interpreter import Interpreter, _driving, _issue
from aion.store import Append, DuckDBStore


@aion.activity
def work(i: int) -> dict[str, Any]:
    return {"i": i}


@aion.workflow
def mixed(n: int):  # type: ignore[no-untyped-def]
    total = 0
    for i in range(n):
        if i % 10 < 7:
            out = yield aion.call(work, i)
            total += out["i"]
        elif i % 10 < 9:
            yield aion.sleep(1.0)
        else:
            yield aion.receive_signal("go")
    return total


REGISTRY = Registry([mixed], [work])
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(commands: int) -> list[Event]:
    """The complete history of ``mixed(commands)``, answered by a fake world."""
    definition = workflow_definition(mixed)
    started = WorkflowStarted(
        seq=1, run_id="r", recorded_at=T0, name=definition.name, args=[commands]
    )
    history: list[Event] = [started]
    interp = Interpreter(workflow_id="w", started=started, definition=definition, registry=REGISTRY)
    interp.start()
    while decisions := interp.take_decisions():
        for decision in decisions:
            at = T0 + timedelta(seconds=len(history))
            event = decision.event(len(history) + 1, at, "r")
            history.append(event)
            outcome: Event | None = None
            seq = len(history) + 1
            if isinstance(event, ActivityScheduled):
                result = {"i": event.args[0]}
                outcome = ActivityCompleted(
                    seq=seq,
                    run_id="r",
                    recorded_at=at,
                    ordinal=event.ordinal,
                    attempt=1,
                    result=result,
                )
            elif isinstance(event, TimerStarted):
                outcome = TimerFired(seq=seq, run_id="r", recorded_at=at, ordinal=event.ordinal)
            elif isinstance(event, SignalAwaited):
                outcome = SignalReceived(seq=seq, run_id="r", recorded_at=at, name="go", payload=1)
            if outcome is not None:
                history.append(outcome)
                interp.apply(outcome)
    assert interp.status == "completed"
    return history


class Counter:
    """Counts calls of selected functions while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: dict[str, int] = {}
        self._mp = monkeypatch

    def wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] = self.counts.get(name, 0) + 1
            return original(*args, **kwargs)

        self._mp.setattr(owner, name, counted)


def measure(store: DuckDBStore, monkeypatch: pytest.MonkeyPatch, commands: int) -> dict[str, float]:
    counter = Counter(monkeypatch)
    counter.wrap(store, "_select")
    counter.wrap(_rowcodec, "quick")  # the row decode every row tries first
    counter.wrap(_codec, "event_from_row")  # the full one, for rows `quick` declines
    counter.wrap(_codec, "digest")
    counter.wrap(_codec, "from_jsonable")
    counter.wrap(_issue, "quick_decoder")  # once per call issued: how its result decodes
    counter.wrap(_driving, "source_of")  # once per command the generator yields
    counter.wrap(Interpreter, "feed")
    counter.wrap(Interpreter, "apply")
    counter.wrap(Interpreter, "_settle")
    counter.wrap(Interpreter, "_resume")
    workflow_id = f"w{commands}"
    events = store.history(workflow_id)  # warm caches (type hints, paths) outside the count
    aion.replay(mixed, events, registry=REGISTRY)
    counter.counts.clear()
    events = store.history(workflow_id)
    result = aion.replay(mixed, events, registry=REGISTRY)
    monkeypatch.undo()
    assert result.ok and result.status == "completed"
    n = len(events)
    per_event = {name: count / n for name, count in counter.counts.items()}
    per_event["events"] = n
    return per_event


def test_replay_work_per_event_does_not_grow_with_history_length(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = (50, 500, 2_500)  # commands; about 100, 1,000 and 5,000 events
    store = DuckDBStore(tmp_path / "linear.duckdb")
    try:
        for commands in sizes:
            history = record(commands)
            store.append([Append(workflow_id=f"w{commands}", expected_seq=0, events=history)])
        small, medium, large = (measure(store, monkeypatch, c) for c in sizes)
    finally:
        store.close()
    assert small["events"] < medium["events"] < large["events"]
    # One query per replayed history, whatever its length.
    assert small["_select"] * small["events"] == 1
    assert large["_select"] * large["events"] == 1
    # Exactly one row decode per event; digests and result decodes per event are constant.
    for name in ("quick", "digest", "quick_decoder"):
        assert small[name] == pytest.approx(medium[name], rel=0.05), name
        assert large[name] == pytest.approx(medium[name], rel=0.05), name
    # The converter runs a fixed number of times per replay (the input), never per event.
    for per_event in (small, medium, large):
        assert per_event.get("from_jsonable", 0) * per_event["events"] <= 1
    assert large["quick"] == 1
    assert "event_from_row" not in large  # every row was as the encoder writes it
    # The interpreter's own steps, whatever the length: a feed (a decision) or an apply
    # (an outcome) per event the replay loop does not take inline (it takes a recorded
    # call and its result), one resume per outcome that resumes the code, a settle per
    # outcome that is not a top-level call's.
    for name in ("feed", "apply", "source_of", "_settle", "_resume"):
        assert small[name] == pytest.approx(large[name], rel=0.05), name
    stepped = (large["feed"] + large["apply"]) * large["events"]
    assert 0 < stepped < large["events"] - 1  # not the started event, nor the inline calls
    assert large["_resume"] * large["events"] > large["quick_decoder"] * large["events"]
