"""`Engine.terminate`: end a workflow now, with no compensation, recorded with a reason.

A terminate request is recorded as a `CancelRequested` with ``terminate``; the
interpreter closes the generator (no `aion.Cancelled` thrown in), abandons what
is pending and decides `WorkflowCancelled` with ``terminated``. The status is
``cancelled`` (the contract's status list), and replay of the recorded history
is ok and stops at that end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import aion
from aion import fixtures
from aion.events import (
    ActivityCompleted,
    CancelRequested,
    CommandCancelled,
    TimerFired,
    WorkflowCancelled,
)

ROOT = Path(__file__).resolve().parents[1]
UNDONE: list[str] = []
CLOSED: list[str] = []
GATE = threading.Event()


@aion.activity
def undo(name: str) -> str:
    UNDONE.append(name)
    return f"undid {name}"


@aion.activity
def slow(name: str) -> str:
    GATE.wait(30)
    return name


@aion.workflow
def in_activity(name: str) -> Any:
    try:
        value = yield aion.call(slow, name)
    except aion.Cancelled:
        yield aion.call(undo, name)
        raise
    finally:
        CLOSED.append(name)
    return value


@aion.workflow
def in_sleep(name: str) -> Any:
    try:
        yield aion.sleep(timedelta(hours=1))
    except aion.Cancelled:
        yield aion.call(undo, name)
        raise
    return "slept"


@aion.workflow
def in_group(name: str) -> Any:
    values = yield aion.collect_all(
        [aion.sleep(timedelta(minutes=5)), aion.receive_signal("go"), aion.call(undo, name)]
    )
    return values


@aion.workflow
def compensating(name: str) -> Any:
    try:
        value = yield aion.receive_signal("go")
    except aion.Cancelled:
        yield aion.call(undo, name)
        raise
    return value


@aion.workflow
def saga(name: str) -> Any:
    try:
        yield aion.receive_signal("never")
    except aion.Cancelled:
        yield aion.receive_signal("compensation-approved")  # compensation waits here
        yield aion.call(undo, name)
        raise
    return "unreachable"


@aion.workflow
def with_children(policy: str) -> Any:
    yield aion.start_child(compensating, "d", workflow_id="detached", parent_close=policy)
    value = yield aion.await_child(compensating, "a", workflow_id="awaited")
    return value


FLOWS = [in_activity, in_sleep, in_group, compensating, saga, with_children]
ACTS = [undo, slow]


def _wait(condition: Any) -> None:
    gave_up = time.monotonic() + 60  # a bound for a broken engine, not a timing test
    while not condition():
        assert time.monotonic() < gave_up, "the engine never got there"
        threading.Event().wait(0.01)


def _end(history: list[Any]) -> WorkflowCancelled:
    end = history[-1]
    assert isinstance(end, WorkflowCancelled)
    return end


def test_terminate_during_an_activity_ends_it_without_compensation(tmp_path: Path) -> None:
    UNDONE.clear()
    CLOSED.clear()
    GATE.clear()
    with aion.Engine(str(tmp_path / "t.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        stop = threading.Event()
        server = threading.Thread(target=engine.serve, args=(stop,))
        server.start()
        try:
            engine.start(in_activity, "x", workflow_id="w")
            _wait(lambda: bool(engine.describe("w").pending))  # the attempt is in flight
            engine.terminate("w", reason="operator said so")
            _wait(lambda: engine.describe("w").status == "cancelled")
        finally:
            GATE.set()  # the abandoned attempt returns; its result is not recorded
            stop.set()
            server.join()
        with pytest.raises(aion.WorkflowCancelledError, match="terminated: operator said so"):
            engine.run_until_complete("w", timeout=30)
        engine.run_until_idle()
        history = engine.history("w")
    assert UNDONE == []  # no compensation ran
    assert CLOSED == ["x"]  # the generator was closed: its finally block ran
    end = _end(history)
    assert end.terminated and end.reason == "operator said so"
    request = history[-2]
    assert isinstance(request, CancelRequested) and request.terminate
    assert not any(isinstance(e, ActivityCompleted | CommandCancelled) for e in history)
    replayed = aion.replay(in_activity, history)
    assert replayed.ok and replayed.stopped_at == end.seq
    # As a fixture: written, read back, replayed to the same recorded outcome.
    data = fixtures.to_dict("w", history, expect=fixtures.expectation(replayed))
    loaded = fixtures.loads(fixtures.dumps(data))
    assert loaded.expect == {"outcome": "cancelled"}
    assert loaded.events == tuple(history)
    assert fixtures.check(loaded, aion.replay(in_activity, loaded.events)) is None


def test_terminate_during_a_sleep_abandons_the_timer(tmp_path: Path) -> None:
    UNDONE.clear()
    clock = aion.ManualClock()
    with aion.Engine(
        str(tmp_path / "s.duckdb"), workflows=FLOWS, activities=ACTS, clock=clock
    ) as engine:
        engine.start(in_sleep, "s", workflow_id="s")
        engine.run_until_idle()
        engine.terminate("s")
        engine.run_until_idle()
        clock.advance(timedelta(hours=2))
        engine.run_until_idle()
        history = engine.history("s")
        assert engine.describe("s").status == "cancelled"
        with pytest.raises(aion.WorkflowClosed, match="cannot take a terminate request"):
            engine.terminate("s")
    assert UNDONE == []
    assert not any(isinstance(e, TimerFired) for e in history)
    assert _end(history).terminated and _end(history).reason is None
    assert aion.replay(in_sleep, history).ok


def test_terminate_during_a_collect_all(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "g.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(in_group, "g", workflow_id="g")
        engine.run_until_idle()  # the activity member completed; sleep and signal pending
        engine.terminate("g", reason="stop")
        engine.run_until_idle()
        history = engine.history("g")
        with pytest.raises(aion.WorkflowClosed):
            engine.signal("g", "go", 1)
    assert _end(history).terminated
    result = aion.replay(in_group, history)
    assert result.ok and result.stopped_at == history[-1].seq


def test_terminate_ends_a_run_that_is_compensating_after_a_cancel(tmp_path: Path) -> None:
    UNDONE.clear()
    with aion.Engine(str(tmp_path / "c.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(saga, "o", workflow_id="o")
        engine.run_until_idle()
        engine.cancel("o", reason="first ask")
        engine.run_until_idle()
        assert engine.describe("o").status == "running"  # compensating, waiting for approval
        engine.terminate("o", reason="enough")
        engine.run_until_idle()
        history = engine.history("o")
    assert UNDONE == []
    assert _end(history).terminated and _end(history).reason == "enough"
    assert aion.replay(saga, history).ok


@pytest.mark.parametrize(
    ("policy", "detached_cancelled"),
    [("propagate_cancel", True), ("cancel", True), ("abandon", False)],
)
def test_children_are_closed_as_a_cancel_would_close_them(
    tmp_path: Path, policy: str, detached_cancelled: bool
) -> None:
    UNDONE.clear()
    with aion.Engine(str(tmp_path / "k.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(with_children, policy, workflow_id="p")
        engine.run_until_idle()
        engine.terminate("p", reason="parent terminated")
        engine.run_until_idle()
        assert engine.describe("p").status == "cancelled"
        # The awaited child's await was pending: it is cancelled (and compensates).
        assert engine.describe("awaited").status == "cancelled"
        detached = engine.describe("detached").status
        parent_history = engine.history("p")
    assert detached == ("cancelled" if detached_cancelled else "running")
    assert sorted(UNDONE) == sorted(["a", "d"] if detached_cancelled else ["a"])
    assert aion.replay(with_children, parent_history).ok


def test_a_stalled_workflow_can_be_terminated(tmp_path: Path) -> None:
    db = str(tmp_path / "st.duckdb")
    with aion.Engine(db, workflows=FLOWS, activities=ACTS) as engine:
        engine.start(compensating, "z", workflow_id="z")
        engine.run_until_idle()

    @aion.workflow(name=compensating.__qualname__)
    def changed(name: str) -> Any:
        yield aion.sleep(timedelta(seconds=1))  # not what history recorded
        return name

    with aion.Engine(db, workflows=[changed], activities=ACTS) as engine:
        engine.run_until_idle()
        assert engine.describe("z").status == "stalled"
        engine.terminate("z", reason="broken deploy")
        engine.run_until_idle()
        assert engine.describe("z").status == "cancelled"
        history = engine.history("z")
    assert _end(history).terminated
    # Under the code that recorded it, the history replays to the same end.
    assert aion.replay(compensating, history).ok


def test_terminate_names_what_is_missing(tmp_path: Path) -> None:
    with (
        aion.Engine(str(tmp_path / "n.duckdb"), workflows=FLOWS, activities=ACTS) as engine,
        pytest.raises(aion.WorkflowNotFound),
    ):
        engine.terminate("nope")


def test_changed_code_replaying_a_terminated_history_is_a_divergence(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "d.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(in_sleep, "s", workflow_id="s")
        engine.run_until_idle()
        engine.terminate("s")
        engine.run_until_idle()
        history = engine.history("s")

    @aion.workflow(name=in_sleep.__qualname__)
    def changed(name: str) -> Any:
        yield aion.receive_signal("other")
        return name

    result = aion.replay(changed, history)
    assert not result.ok and result.divergence is not None


def test_a_crash_right_after_terminate_is_recorded_recovers_to_the_end(tmp_path: Path) -> None:
    """SIGKILL a worker right after it recorded a terminate; the next engine keeps the end."""
    db = tmp_path / "crash.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.terminate_worker", str(db)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "terminated\n", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    from tests import terminate_worker as worker

    with aion.Engine(
        str(db), workflows=[worker.parent, worker.child], activities=[worker.mark]
    ) as engine:
        engine.run_until_idle()
        assert engine.describe("p").status == "cancelled"
        engine.run_until_idle()
        assert engine.describe("p/child").status == "cancelled"
        history, child = engine.history("p"), engine.history("p/child")
    assert _end(history).terminated and _end(history).reason == "crash test"
    assert sum(isinstance(e, WorkflowCancelled) for e in history) == 1
    assert not any(type(e).__name__ == "ActivityScheduled" for e in history)  # no compensation
    assert any(isinstance(e, ActivityCompleted) for e in child)  # the child's cancel did run
    assert aion.replay(worker.parent, history).ok
    assert aion.replay(worker.child, child).ok


def test_a_terminate_routed_to_another_owner_stays_a_terminate() -> None:
    from datetime import UTC, datetime

    from aion.store._postgres_routing import message_for

    at = datetime(2026, 1, 1, tzinfo=UTC)
    ask = CancelRequested(seq=3, run_id="r", recorded_at=at, reason="stop", terminate=True)
    assert message_for(ask) == ("cancel", {"reason": "stop", "terminate": True})
    plain = CancelRequested(seq=3, run_id="r", recorded_at=at, reason="stop")
    assert message_for(plain) == ("cancel", {"reason": "stop"})
