"""Reset, fork, retry and resume: new runs from recorded history, inside a running engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import aion
from aion.events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    Event,
    WorkflowCancelled,
    WorkflowStarted,
)

CALLS: list[str] = []
BROKEN = {"flaky": True}


@aion.activity
def step(name: str) -> str:
    CALLS.append(name)
    return f"did {name}"


@aion.activity(retry=aion.RetryPolicy(max_attempts=2, initial_interval=timedelta(0)))
def flaky(name: str) -> str:
    CALLS.append(f"flaky {name}")
    if BROKEN["flaky"]:
        raise ValueError(f"{name} is broken")
    return f"fixed {name}"


@aion.workflow
def pipeline(name: str) -> Any:
    a = yield aion.call(step, f"{name}-a")
    token = yield aion.uuid4()
    b = yield aion.call(flaky, name)
    c = yield aion.call(step, f"{name}-c")
    return [a, str(token)[:4], b, c]


@aion.workflow
def waiter(name: str) -> Any:
    a = yield aion.call(step, name)
    go = yield aion.receive_signal("go")
    return [a, go]


@aion.workflow
def stamped(name: str) -> Any:
    when = yield aion.now()
    lucky = yield aion.random()
    first = yield aion.call(step, f"{name} at {when.isoformat()} {lucky:.6f}")
    second = yield aion.call(step, f"{name} again")
    return [first, second]


FLOWS = [pipeline, waiter, stamped]
ACTS = [step, flaky]


def _run(history: list[Event], run_id: str) -> list[Event]:
    return [e for e in history if e.run_id == run_id]


def test_retry_of_a_failed_activity_attempts_it_again(tmp_path: Path) -> None:
    CALLS.clear()
    BROKEN["flaky"] = True
    with aion.Engine(str(tmp_path / "r.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(pipeline, "p", workflow_id="p")
        with pytest.raises(aion.WorkflowFailedError):
            engine.run_until_complete("p")
        old_run = engine.describe("p").run_id
        assert CALLS == ["p-a", "flaky p", "flaky p"]
        BROKEN["flaky"] = False
        new_run = engine.retry("p")
        result = engine.run_until_complete("p")
        history = engine.history("p")
        with pytest.raises(aion.AionError, match="only a failed workflow"):
            engine.retry("p")
    assert new_run != old_run and result[2] == "fixed p"
    # The first activity's recorded result was reused; the failed call ran again.
    assert CALLS == ["p-a", "flaky p", "flaky p", "flaky p", "p-c"]
    new = _run(history, new_run)
    started = new[0]
    assert isinstance(started, WorkflowStarted) and started.previous_run_id == old_run
    assert started.origin is not None and started.origin.run_id == old_run
    assert not any(isinstance(e, ActivityFailed) for e in new)  # a fresh retry budget
    assert _run(history, old_run)[-1].__class__.__name__ == "WorkflowFailed"  # old run kept
    assert aion.replay(pipeline, new).ok


def test_reset_past_an_activity_failure_re_executes_it(tmp_path: Path) -> None:
    CALLS.clear()
    BROKEN["flaky"] = True
    with aion.Engine(str(tmp_path / "s.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(pipeline, "q", workflow_id="q")
        with pytest.raises(aion.WorkflowFailedError):
            engine.run_until_complete("q")
        history = engine.history("q")
        scheduled = [e for e in history if isinstance(e, ActivityScheduled)]
        flaky_at = scheduled[1].seq  # the flaky call's command
        BROKEN["flaky"] = False
        run_id = engine.reset("q", flaky_at)
        assert engine.run_until_complete("q")[2] == "fixed q"
        after = engine.history("q")
        with pytest.raises(aion.HistoryError, match="not in the history"):
            engine.reset("q", 10_000)
    new = _run(after, run_id)
    # Up to the seq, the new run is the old one's events (re-numbered, same outcomes).
    old_prefix = [e for e in history if 1 < e.seq <= flaky_at]
    copied = new[1 : len(old_prefix) + 1]
    assert [type(e) for e in copied] == [type(e) for e in old_prefix]
    assert [getattr(e, "ordinal", None) for e in copied] == [
        getattr(e, "ordinal", None) for e in old_prefix
    ]
    assert sum(isinstance(e, ActivityCompleted) for e in new) == 3
    assert CALLS.count("q-a") == 1  # reused, never run again
    assert aion.replay(pipeline, new).ok


def test_reset_of_an_open_run_ends_it_and_keeps_it(tmp_path: Path) -> None:
    CALLS.clear()
    with aion.Engine(str(tmp_path / "o.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(waiter, "w", workflow_id="w")
        engine.run_until_idle()
        old_run = engine.describe("w").run_id
        run_id = engine.reset("w", 1)  # from the very start: the activity runs again
        engine.run_until_idle()
        engine.signal("w", "go", 7)
        assert engine.run_until_complete("w") == ["did w", 7]
        history = engine.history("w")
    old = _run(history, old_run)
    assert isinstance(old[-1], WorkflowCancelled) and old[-1].terminated
    assert CALLS == ["w", "w"]
    assert aion.replay(waiter, _run(history, run_id)).ok


def test_fork_copies_the_history_up_to_the_seq_under_a_new_id(tmp_path: Path) -> None:
    CALLS.clear()
    BROKEN["flaky"] = False
    with aion.Engine(str(tmp_path / "f.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(pipeline, "f", workflow_id="f")
        original = engine.run_until_complete("f")
        history = engine.history("f")
        scheduled = [e for e in history if isinstance(e, ActivityScheduled)]
        at = scheduled[2].seq  # the third call: its outcome is re-executed in the fork
        new_id = engine.fork("f", at, "f-copy")
        forked = engine.run_until_complete(new_id)
        fork_history = engine.history(new_id)
        with pytest.raises(aion.WorkflowAlreadyExists):
            engine.fork("f", at, "f-copy")
        assert engine.describe("f").status == "completed"  # the original is untouched
    assert new_id == "f-copy"
    assert forked == original  # same uuid4 draw: the origin's seeds

    # Up to the seq the fork's history is the original's: same events, same payloads.
    def same(events: list[Event]) -> list[dict[str, Any]]:
        out = []
        for e in events:
            data = aion.codec.event_to_dict(e)
            for key in ("run_id", "workflow_id", "origin", "previous_run_id"):
                data.pop(key, None)
            out.append(data)
        return out

    assert same(fork_history[:at]) == same([e for e in history if e.seq <= at])
    assert CALLS.count("f-c") == 2 and CALLS.count("f-a") == 1
    assert aion.replay(pipeline, fork_history).ok


def test_a_reset_run_replayed_under_changed_code_is_a_divergence(tmp_path: Path) -> None:
    BROKEN["flaky"] = False
    with aion.Engine(str(tmp_path / "d.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(pipeline, "d", workflow_id="d")
        engine.run_until_complete("d")
        run_id = engine.reset("d", 3)
        engine.run_until_complete("d")
        new = _run(engine.history("d"), run_id)

    @aion.workflow(name=pipeline.__qualname__)
    def changed(name: str) -> Any:
        yield aion.call(step, "something else")
        return name

    result = aion.replay(changed, new)
    assert not result.ok and result.divergence is not None


def test_resume_replays_a_stalled_workflow_under_replaced_code(tmp_path: Path) -> None:
    db = str(tmp_path / "st.duckdb")
    with aion.Engine(db, workflows=FLOWS, activities=ACTS) as engine:
        engine.start(waiter, "z", workflow_id="z")
        engine.run_until_idle()

    @aion.workflow(name=waiter.__qualname__)
    def broken(name: str) -> Any:
        yield aion.sleep(timedelta(seconds=1))
        return name

    with aion.Engine(db, workflows=[broken], activities=ACTS) as engine:
        engine.run_until_idle()
        assert engine.describe("z").status == "stalled"
        assert engine.resume("z") == "stalled"  # the same code stalls the same way
        assert engine.resume("z", workflows=[waiter]) == "running"
        engine.signal("z", "go", 1)
        assert engine.run_until_complete("z") == ["did z", 1]
        with pytest.raises(aion.WorkflowClosed):
            engine.resume("z")
        with pytest.raises(aion.WorkflowNotFound):
            engine.resume("nope")
        kinds = [type(e).__name__ for e in engine.history("z")]
    assert "WorkflowResumed" in kinds


def test_a_fork_repeats_now_and_random_taken_before_its_seq(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "n.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(stamped, "n", workflow_id="n")
        original = engine.run_until_complete("n")
        history = engine.history("n")
        at = next(e.seq for e in history if isinstance(e, ActivityCompleted))
        engine.fork("n", at, "n2")
        run_id = engine.reset("n", at)
        assert engine.run_until_complete("n2") == original
        assert engine.run_until_complete("n") == original
        forked, reset_run = engine.history("n2"), _run(engine.history("n"), run_id)
    assert aion.replay(stamped, forked).ok and aion.replay(stamped, reset_run).ok
