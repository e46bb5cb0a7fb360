"""Cancelling a child command cancels the child workflow (issue 11, defect 4).

A child started and awaited (``await_child(workflow, ...)``) whose await is
cancelled (it lost a `collect_race`, a `with_timeout` deadline cut it off,
a sibling failed fast) gets a `CancelRequested` in its own history, in the
same transaction as the parent's `CommandCancelled`, so its compensation
runs. Children started with `start_child` follow their parent-close policy
(`aion.ParentClose`) when the parent's run ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import aion
from aion._events import CancelRequested, CommandCancelled, Event, WorkflowCancelled
from aion.store import Append
from tests import child_cancel_worker as worker

ROOT = Path(__file__).resolve().parents[1]
UNDONE: list[str] = []


@aion.activity
def undo(name: str) -> str:
    UNDONE.append(name)
    return f"undid {name}"


@aion.activity
def boom(n: int) -> int:
    raise ValueError(f"boom {n}")


@aion.workflow
def compensating(name: str) -> Any:
    try:
        value = yield aion.receive_signal("go")
    except aion.Cancelled:
        yield aion.call(undo, name)
        raise
    return value


@aion.workflow
def racer() -> Any:
    index, value = yield aion.collect_race(
        [aion.receive_signal("win"), aion.await_child(compensating, "c", workflow_id="r/child")]
    )
    return [index, value]


@aion.workflow
def deadline() -> Any:
    try:
        yield aion.with_timeout(
            timedelta(minutes=5), aion.await_child(compensating, "t", workflow_id="d/child")
        )
    except aion.Timeout:
        return "timed out"
    return "finished"


@aion.workflow
def fail_fast() -> Any:
    try:
        yield aion.collect_all(
            [aion.await_child(compensating, "f", workflow_id="f/child"), aion.call(boom, 1)]
        )
    except aion.ActivityError:
        return "failed fast"
    return "all done"


@aion.workflow
def starts_detached(policy: str, end: str) -> Any:
    yield aion.start_child(compensating, "d", workflow_id="detached", parent_close=policy)
    if end == "wait":
        yield aion.receive_signal("finish")
    return "parent done"


FLOWS = [compensating, racer, deadline, fail_fast, starts_detached]
ACTS = [undo, boom]


class RecordingStore(aion.DuckDBStore):
    """A real DuckDB store that remembers which workflows each transaction wrote."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[list[tuple[str, str]]] = []

    def append(self, batch: Sequence[Append]) -> None:
        super().append(batch)
        self.batches.append([(a.workflow_id, type(e).__name__) for a in batch for e in a.events])


def _same_transaction(store: RecordingStore, parent_id: str, child_id: str) -> None:
    both = [
        b
        for b in store.batches
        if (parent_id, "CommandCancelled") in b and (child_id, "CancelRequested") in b
    ]
    assert len(both) == 1, store.batches


def _kinds(history: list[Event]) -> list[str]:
    return [type(e).__name__ for e in history]


def test_a_child_that_loses_a_race_is_cancelled_and_compensates(tmp_path: Path) -> None:
    UNDONE.clear()
    store = RecordingStore(tmp_path / "race.duckdb")
    with aion.Engine(store=store, workflows=FLOWS, activities=ACTS) as engine:
        engine.start(racer, workflow_id="r")
        engine.run_until_idle()
        engine.signal("r", "win", "signal won")
        assert engine.run_until_complete("r") == [0, "signal won"]
        with pytest.raises(aion.WorkflowCancelledError, match="stopped waiting for it"):
            engine.run_until_complete("r/child")
        child = engine.history("r/child")
        assert "CancelRequested" in _kinds(child) and _kinds(child)[-1] == "WorkflowCancelled"
        assert UNDONE == ["c"]
        _same_transaction(store, "r", "r/child")
        assert aion.replay(racer, engine.history("r")).ok
        assert aion.replay(compensating, child).ok
    store.close()


def test_a_deadline_that_cuts_a_child_off_cancels_it(tmp_path: Path) -> None:
    UNDONE.clear()
    clock = aion.ManualClock()
    store = RecordingStore(tmp_path / "deadline.duckdb")
    with aion.Engine(store=store, workflows=FLOWS, activities=ACTS, clock=clock) as engine:
        engine.start(deadline, workflow_id="d")
        assert engine.run_until_complete("d") == "timed out"
        with pytest.raises(aion.WorkflowCancelledError):
            engine.run_until_complete("d/child")
        assert UNDONE == ["t"]
        _same_transaction(store, "d", "d/child")
    store.close()


def test_fail_fast_cancels_a_child_member(tmp_path: Path) -> None:
    UNDONE.clear()
    with aion.Engine(str(tmp_path / "ff.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(fail_fast, workflow_id="f")
        assert engine.run_until_complete("f") == "failed fast"
        with pytest.raises(aion.WorkflowCancelledError):
            engine.run_until_complete("f/child")
        assert UNDONE == ["f"]


@pytest.mark.parametrize(
    ("policy", "end", "child_cancelled"),
    [
        (aion.ParentClose.PROPAGATE_CANCEL, "complete", False),
        (aion.ParentClose.PROPAGATE_CANCEL, "cancel", True),
        (aion.ParentClose.CANCEL, "complete", True),
        (aion.ParentClose.CANCEL, "cancel", True),
        (aion.ParentClose.ABANDON, "complete", False),
        (aion.ParentClose.ABANDON, "cancel", False),
    ],
)
def test_the_parent_close_policy_decides_what_happens_to_an_unawaited_child(
    tmp_path: Path, policy: aion.ParentClose, end: str, child_cancelled: bool
) -> None:
    UNDONE.clear()
    with aion.Engine(str(tmp_path / "pc.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(starts_detached, policy.value, "wait", workflow_id="p")
        engine.run_until_idle()
        if end == "cancel":
            engine.cancel("p")
            with pytest.raises(aion.WorkflowCancelledError):
                engine.run_until_complete("p")
        else:
            engine.signal("p", "finish")
            assert engine.run_until_complete("p") == "parent done"
        engine.run_until_idle()
        status = engine.describe("detached").status
        assert status == ("cancelled" if child_cancelled else "running")
        assert (["d"] if child_cancelled else []) == UNDONE
        if not child_cancelled:
            engine.signal("detached", "go", "still mine")
            assert engine.run_until_complete("detached") == "still mine"
        # The policy in force is recorded with the start.
        started = next(e for e in engine.history("p") if type(e).__name__ == "ChildStarted")
        assert started.parent_close == policy.value  # type: ignore[attr-defined]


def test_parent_close_accepts_only_its_values() -> None:
    assert aion.start_child(compensating, "x", parent_close="abandon").parent_close is (
        aion.ParentClose.ABANDON
    )
    with pytest.raises(aion.ConfigurationError, match="parent_close must be one of"):
        aion.start_child(compensating, "x", parent_close="terminate")


def test_a_code_change_around_a_cancelled_child_is_a_divergence(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "div.duckdb"), workflows=FLOWS, activities=ACTS) as engine:
        engine.start(racer, workflow_id="r")
        engine.run_until_idle()
        engine.signal("r", "win", 1)
        engine.run_until_complete("r")
        history = engine.history("r")

    @aion.workflow(name="racer")
    def racer_without_the_race() -> Any:
        value = yield aion.await_child(compensating, "c", workflow_id="r/child")
        return value

    result = aion.replay(racer_without_the_race, history)
    assert not result.ok
    assert result.divergence is not None
    assert result.divergence.seq == 2
    assert "GroupStarted" in str(result.divergence)


def test_a_crash_during_the_childs_compensation_recovers_it(tmp_path: Path) -> None:
    """SIGKILL while the cancelled child compensates; the next engine finishes the job."""
    db, marks = tmp_path / "crash.duckdb", tmp_path / "marks"
    marks.mkdir()
    (marks / "block").write_text("")
    env = {**os.environ, "AION_MARKS": str(marks), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.child_cancel_worker", str(db)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        # Observed progress: the compensation started (after the cancellation committed).
        gave_up = time.monotonic() + 120  # a bound for a broken engine, not a timing test
        while not (marks / "compensating").exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < gave_up, "the cancelled child never began compensating"
            threading.Event().wait(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    os.environ["AION_MARKS"] = str(marks)
    try:
        with aion.Engine(
            str(db), workflows=[worker.parent, worker.saga_child], activities=[worker.compensate]
        ) as engine:
            assert engine.run_until_complete("p", timeout=60) == "timed out"
            with pytest.raises(aion.WorkflowCancelledError):
                engine.run_until_complete("p/child", timeout=60)
            parent_history, child = engine.history("p"), engine.history("p/child")
    finally:
        del os.environ["AION_MARKS"]
    assert sum(isinstance(e, CommandCancelled) for e in parent_history) >= 1
    assert sum(isinstance(e, CancelRequested) for e in child) == 1
    assert isinstance(child[-1], WorkflowCancelled)
    completions = [e for e in child if type(e).__name__ == "ActivityCompleted"]
    assert [e.result for e in completions] == ["undid order-1"]  # type: ignore[attr-defined]
    assert aion.replay(worker.parent, parent_history).ok
    assert aion.replay(worker.saga_child, child).ok
