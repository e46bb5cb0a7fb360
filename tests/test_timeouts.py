"""with_timeout: recorded order decides, scopes nest and are told apart."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

import aion
from aion._events import CommandCancelled, SignalReceived, TimeoutStarted, TimerFired
from tests.helpers import ExecutionLog, check_recovery_everywhere, drive, run_once

EXECUTIONS: ExecutionLog = []


@aion.activity
def echo(value: str) -> str:
    info = aion.activity_info()
    EXECUTIONS.append((info.idempotency_key, info.attempt))
    return value


@aion.workflow
def slow_child(minutes: int):  # type: ignore[no-untyped-def]
    yield aion.sleep(timedelta(minutes=minutes))
    return f"child after {minutes} min"


@aion.workflow
def timeout_basics():  # type: ignore[no-untyped-def]
    fast = yield aion.with_timeout(timedelta(minutes=5), aion.call(echo, "fast"))
    try:
        yield aion.with_timeout(timedelta(minutes=5), aion.sleep(timedelta(hours=1)))
        slept = "slept"
    except aion.Timeout as t:
        slept = f"timeout {t.seconds:g}s"
    try:
        yield aion.with_timeout(60, aion.receive_signal("answer"))
        first = "got it"
    except aion.Timeout:
        first = "no answer"
    # the signal that arrives after the deadline is kept for this receive
    late = yield aion.receive_signal("answer")
    return [fast, slept, first, late]


def test_deadline_first_raises_and_inner_first_cancels_the_deadline(epoch: datetime) -> None:
    signals = [("wf", "answer", "late reply")]
    result, _ = run_once(
        timeout_basics, [], workflows=[timeout_basics], activities=[echo], epoch=epoch
    )
    assert result == ("error", "WorkflowBlocked")  # without the signal it waits at the end
    with aion.Engine(
        store=aion.MemoryStore(),
        workflows=[timeout_basics],
        activities=[echo],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        engine.start(timeout_basics, workflow_id="wf")
        assert drive(engine, "wf", signals) == ["fast", "timeout 300s", "no answer", "late reply"]
        history = engine.history("wf")
    deadlines = [e.ordinal for e in history if isinstance(e, TimeoutStarted)]
    fired = [e.ordinal for e in history if isinstance(e, TimerFired)]
    cancels = [(e.ordinal, e.reason) for e in history if isinstance(e, CommandCancelled)]
    assert deadlines == [1, 3, 5]
    assert fired == [3, 5]
    assert cancels == [
        (1, "inner command settled"),
        (4, "deadline expired"),
        (6, "deadline expired"),
    ]
    signal = next(e for e in history if isinstance(e, SignalReceived))
    assert signal.seq > next(e.seq for e in history if isinstance(e, TimerFired) and e.ordinal == 5)
    check_recovery_everywhere(
        timeout_basics,
        [],
        workflows=[timeout_basics],
        activities=[echo],
        epoch=epoch,
        signals=signals,
        executions=EXECUTIONS,
    )


@aion.workflow
def nested(outer_minutes: int, inner_minutes: int, child_minutes: int):  # type: ignore[no-untyped-def]
    """Outer and inner scopes around activities, a signal and a child."""
    outcome: list[Any] = []
    try:
        value = yield aion.with_timeout(
            timedelta(minutes=outer_minutes),
            aion.collect_all(
                [
                    aion.call(echo, "a"),
                    aion.with_timeout(
                        timedelta(minutes=inner_minutes),
                        aion.collect_all(
                            [aion.receive_signal("go"), aion.await_child(slow_child, child_minutes)]
                        ),
                    ),
                ]
            ),
        )
        outcome.append(["done", value])
    except aion.Timeout as t:
        outcome.append(["timeout", t.seconds])
    return outcome


NESTED = [
    # outer 1 h, inner 10 min: the child takes 20 min, so the inner scope fires
    ((60, 10, 20), [("wf", "go", 1)], [["timeout", 600.0]]),
    # outer 10 min, inner 1 h: the outer scope fires first
    ((10, 60, 20), [("wf", "go", 1)], [["timeout", 600.0]]),
    # both generous: everything finishes
    ((60, 30, 5), [("wf", "go", 1, "now")], [["done", ["a", [1, "child after 5 min"]]]]),
]


@pytest.mark.parametrize(
    ("args", "signals", "expected"), NESTED, ids=["inner-fires", "outer-fires", "none-fires"]
)
def test_nested_scopes(
    epoch: datetime, args: tuple[int, int, int], signals: Any, expected: Any
) -> None:
    flows = [nested, slow_child]
    with aion.Engine(
        store=aion.MemoryStore(),
        workflows=flows,
        activities=[echo],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        engine.start(nested, *args, workflow_id="wf")
        assert drive(engine, "wf", signals) == expected
        history = engine.history("wf")
        fired = [e.ordinal for e in history if isinstance(e, TimerFired)]
        if fired:  # a deadline cut the child's await off: the child is cancelled with it
            with pytest.raises(aion.WorkflowCancelledError, match="stopped waiting for it"):
                engine.run_until_complete("wf/7")
        else:
            assert engine.run_until_complete("wf/7") == f"child after {args[2]} min"
    if args == (60, 10, 20):
        assert fired == [4]  # the inner scope (ordinal 4) fired, not the outer one (1)
    elif args == (10, 60, 20):
        assert fired == [1]
    else:
        assert fired == []
    check_recovery_everywhere(
        nested,
        list(args),
        workflows=flows,
        activities=[echo],
        epoch=epoch,
        signals=signals,
        executions=EXECUTIONS,
    )


@aion.workflow
def tells_scopes_apart():  # type: ignore[no-untyped-def]
    try:
        yield aion.with_timeout(3600, aion.with_timeout(600, aion.sleep(7200)))
    except aion.Timeout as t:
        return t.ordinal


def test_inner_timeout_is_distinguishable_from_outer(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(),
        workflows=[tells_scopes_apart],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        engine.start(tells_scopes_apart, workflow_id="t")
        assert engine.run_until_complete("t") == 2  # the inner scope's ordinal


@aion.workflow(name="timeout_basics")
def timeout_changed():  # type: ignore[no-untyped-def]
    fast = yield aion.with_timeout(timedelta(minutes=10), aion.call(echo, "fast"))
    return fast


def test_changed_deadline_is_a_divergence(epoch: datetime) -> None:
    _, store = run_once(
        timeout_basics, [], workflows=[timeout_basics], activities=[echo], epoch=epoch
    )
    report = aion.replay(timeout_changed, store.history("wf"))
    assert report.divergence is not None and report.divergence.seq == 2
    assert report.divergence.recorded["args"] == "(300s)"
    assert report.divergence.current["args"] == "(600s)"
