"""Code changed under a recorded history: reported at the right seq, stalled, resumable."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import aion
from aion._events import WorkflowResumed, WorkflowStalled


@aion.activity
def step_a(n: int) -> int:
    return n + 1


@aion.activity
def step_b(n: int) -> int:
    return n * 2


@aion.activity(name="step_b_renamed")
def step_b2(n: int) -> int:
    return n * 2


@aion.workflow(name="flow")
def v1():  # type: ignore[no-untyped-def]
    a = yield aion.call(step_a, 1)
    b = yield aion.call(step_b, 2)
    yield aion.sleep(10)
    go = yield aion.receive_signal("go")
    return [a, b, go]


@aion.workflow(name="flow")
def reordered():  # type: ignore[no-untyped-def]
    b = yield aion.call(step_b, 2)
    a = yield aion.call(step_a, 1)
    yield aion.sleep(10)
    go = yield aion.receive_signal("go")
    return [a, b, go]


@aion.workflow(name="flow")
def renamed():  # type: ignore[no-untyped-def]
    a = yield aion.call(step_a, 1)
    b = yield aion.call(step_b2, 2)
    yield aion.sleep(10)
    go = yield aion.receive_signal("go")
    return [a, b, go]


@aion.workflow(name="flow")
def changed_argument():  # type: ignore[no-untyped-def]
    a = yield aion.call(step_a, 1)
    b = yield aion.call(step_b, 3)
    yield aion.sleep(10)
    go = yield aion.receive_signal("go")
    return [a, b, go]


@aion.workflow(name="flow")
def removed_sleep():  # type: ignore[no-untyped-def]
    a = yield aion.call(step_a, 1)
    b = yield aion.call(step_b, 2)
    go = yield aion.receive_signal("go")
    return [a, b, go]


ACTIVITIES = [step_a, step_b, step_b2]


def line_of(fn: Callable[..., Any], text: str) -> str:
    lines, start = inspect.getsourcelines(fn)
    return f"test_divergence.py:{start + next(i for i, ln in enumerate(lines) if text in ln)}"


CASES = [
    # (changed code, seq reported, recorded side, current side)
    (
        reordered,
        2,
        ("ActivityScheduled", "step_a", line_of(v1, "step_a")),
        ("ActivityScheduled", "step_b", line_of(reordered, "step_b")),
    ),
    (
        renamed,
        4,
        ("ActivityScheduled", "step_b", line_of(v1, "step_b")),
        ("ActivityScheduled", "step_b_renamed", line_of(renamed, "step_b2")),
    ),
    (
        changed_argument,
        4,
        ("ActivityScheduled", "step_b", line_of(v1, "step_b")),
        ("ActivityScheduled", "step_b", line_of(changed_argument, "step_b")),
    ),
    (
        removed_sleep,
        6,
        ("TimerStarted", "", line_of(v1, "aion.sleep")),
        ("SignalAwaited", "go", line_of(removed_sleep, "receive_signal")),
    ),
]


def record_v1(path: str, epoch: datetime) -> list[Any]:
    with aion.Engine(
        path, workflows=[v1], activities=ACTIVITIES, clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(v1, workflow_id="w")
        with pytest.raises(aion.WorkflowBlocked):
            engine.run_until_complete("w")
        return engine.history("w")


@pytest.mark.parametrize(
    ("changed", "seq", "recorded", "current"), CASES, ids=lambda c: getattr(c, "__name__", None)
)
def test_divergence_is_reported_and_stalls_then_fixed_code_resumes(
    tmp_path: Path,
    epoch: datetime,
    changed: Callable[..., Any],
    seq: int,
    recorded: tuple[str, str, str],
    current: tuple[str, str, str],
) -> None:
    path = str(tmp_path / "d.duckdb")
    history = record_v1(path, epoch)

    # offline: aion.replay names the seq and both sides
    report = aion.replay(changed, history)
    assert not report.ok
    err = report.divergence
    assert err is not None and err.seq == seq
    assert (err.recorded["kind"], err.recorded["name"]) == recorded[:2]
    assert err.recorded["source"].endswith(recorded[2])
    assert (err.current["kind"], err.current["name"]) == current[:2]
    assert err.current["source"].endswith(current[2])
    message = str(err)
    assert f"at seq {seq}:" in message and recorded[2] in message and current[2] in message
    assert any(line.startswith(f"seq {seq} ") for line in err.context)

    # live: the engine stalls the workflow (not failed), with the report as the reason
    with aion.Engine(
        path, workflows=[changed], activities=ACTIVITIES, clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.run_until_idle()
        described = engine.describe("w")
        assert described.status == "stalled"
        assert described.stalled_reason is not None and f"at seq {seq}:" in described.stalled_reason
        with pytest.raises(aion.WorkflowStalledError, match=f"seq {seq}"):
            engine.run_until_complete("w")
        stalled_history = engine.history("w")
    assert isinstance(stalled_history[-1], WorkflowStalled)
    assert stalled_history[: len(history)] == history

    # a second engine on the same broken code does not record the stall twice
    with aion.Engine(
        path, workflows=[changed], activities=ACTIVITIES, clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.run_until_idle()
        assert engine.history("w") == stalled_history

    # restoring the code resumes the workflow and lets it finish
    with aion.Engine(
        path, workflows=[v1], activities=ACTIVITIES, clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.signal("w", "go", "yes")
        assert engine.run_until_complete("w") == [2, 4, "yes"]
        final = engine.history("w")
    assert any(isinstance(e, WorkflowResumed) for e in final)


def test_unchanged_code_replays_clean(tmp_path: Path, epoch: datetime) -> None:
    history = record_v1(str(tmp_path / "u.duckdb"), epoch)
    report = aion.replay(v1, history)
    assert report.ok and report.divergence is None and report.status == "running"


def test_unregistered_workflow_type_stalls_and_resumes(tmp_path: Path, epoch: datetime) -> None:
    path = str(tmp_path / "n.duckdb")
    record_v1(path, epoch)
    with aion.Engine(
        path, workflows=[], activities=ACTIVITIES, clock=aion.ManualClock(start=epoch)
    ) as engine:
        described = engine.describe("w")
        assert described.status == "stalled"
        assert described.stalled_reason == (
            "workflow type 'flow' is not registered with this engine (registered: none)."
        )
        engine.signal("w", "go", 1)  # signals are still accepted and kept
    with aion.Engine(
        path, workflows=[v1], activities=ACTIVITIES, clock=aion.ManualClock(start=epoch)
    ) as engine:
        assert engine.run_until_complete("w") == [2, 4, 1]


def test_history_of_another_workflow_type_is_rejected(tmp_path: Path, epoch: datetime) -> None:
    history = record_v1(str(tmp_path / "o.duckdb"), epoch)

    @aion.workflow(name="other")
    def other():  # type: ignore[no-untyped-def]
        yield aion.sleep(1)

    with pytest.raises(
        aion.HistoryError,
        match="is of workflow type 'flow', not 'other': it was recorded by other code",
    ):
        aion.replay(other, history)
