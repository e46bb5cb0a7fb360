"""Composition: collect_all / collect_race / collect_map, with_timeout, children.

Every feature gets a live test, a replay test (no activity executed), a
crash-and-recover test at every commit boundary, and a divergence test.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest

import aion
from aion._events import ActivityCompleted, ChildStarted, CommandCancelled, TimerFired
from tests.helpers import ExecutionLog, check_recovery_everywhere, drive, run_once, store_with

EXECUTIONS: ExecutionLog = []
_lock = threading.Lock()


def _log() -> None:
    info = aion.activity_info()
    with _lock:
        EXECUTIONS.append((info.idempotency_key, info.attempt))


@aion.activity
def double(n: int) -> int:
    _log()
    return n * 2


@aion.activity(retry=aion.RetryPolicy(max_attempts=1))
def explode(message: str) -> int:
    _log()
    raise RuntimeError(message)


@aion.activity
def slow(n: int, seconds: float) -> int:
    _log()
    time.sleep(seconds)
    return n


@aion.workflow
def child(n: int):  # type: ignore[no-untyped-def]
    yield aion.sleep(5)
    value = yield aion.call(double, n)
    return value + 1


@aion.workflow
def failing_child(message: str):  # type: ignore[no-untyped-def]
    yield aion.call(double, 0)
    raise ValueError(message)


@aion.workflow
def everything_at_once():  # type: ignore[no-untyped-def]
    values = yield aion.collect_all(
        [
            aion.call(double, 1),
            aion.sleep(30),
            aion.receive_signal("x"),
            aion.await_child(child, 3),
            aion.collect_all([aion.call(double, 2), aion.call(double, 3)]),
        ]
    )
    empty = yield aion.collect_all([])
    return [values, empty]


@aion.workflow
def fail_fast():  # type: ignore[no-untyped-def]
    try:
        yield aion.collect_all(
            [aion.sleep(60), aion.call(explode, "boom"), aion.receive_signal("never")]
        )
    except aion.ActivityError as err:
        return f"caught {err.cause_type}: {err.message}"
    return "no error"


@aion.workflow
def racing():  # type: ignore[no-untyped-def]
    index, value = yield aion.collect_race([aion.sleep(3600), aion.call(double, 21)])
    timed = yield aion.collect_race([aion.sleep(10), aion.receive_signal("late")])
    try:
        yield aion.collect_race([aion.call(explode, "race lost"), aion.sleep(100)])
    except aion.ActivityError as err:
        failure = err.message
    return [index, value, list(timed), failure]


@aion.workflow
def mapped():  # type: ignore[no-untyped-def]
    return (yield aion.collect_map(double, [1, 2, 3, 4, 5], concurrency=2))


@aion.workflow
def parent_of_children():  # type: ignore[no-untyped-def]
    handle = yield aion.start_child(child, 10)
    direct = yield aion.await_child(child, 20, workflow_id="explicit-child")
    later = yield aion.await_child(handle)
    try:
        yield aion.await_child(failing_child, "no")
    except aion.ChildWorkflowError as err:
        failure = [err.child_id, err.status, err.error_type, err.error_message]
    return [handle.workflow_id, direct, later, failure]


ALL_WORKFLOWS = [
    everything_at_once,
    fail_fast,
    racing,
    mapped,
    parent_of_children,
    child,
    failing_child,
]
ALL_ACTIVITIES = [double, explode, slow]


@pytest.fixture(autouse=True)
def _clear() -> None:
    EXECUTIONS.clear()


def engine_for(epoch: datetime) -> aion.Engine:
    return aion.Engine(
        store=aion.MemoryStore(),
        workflows=ALL_WORKFLOWS,
        activities=ALL_ACTIVITIES,
        clock=aion.ManualClock(start=epoch),
    )


CASES: list[tuple[Any, list[tuple[str, str, Any]], Any]] = [
    (everything_at_once, [("wf", "x", "sig")], [[2, None, "sig", 7, [4, 6]], []]),
    (fail_fast, [], "caught RuntimeError: boom"),
    (racing, [], [1, 42, [0, None], "race lost"]),
    (mapped, [], [2, 4, 6, 8, 10]),
    (
        parent_of_children,
        [],
        ["wf/1", 41, 21, ["wf/4", "failed", "ValueError", "no"]],
    ),
]


@pytest.mark.parametrize(
    ("workflow", "signals", "expected"), CASES, ids=lambda c: getattr(c, "__name__", None)
)
def test_live_replay_and_recovery_at_every_commit(
    epoch: datetime, workflow: Any, signals: list[tuple[str, str, Any]], expected: Any
) -> None:
    with engine_for(epoch) as engine:
        engine.start(workflow, workflow_id="wf")
        assert drive(engine, "wf", signals) == expected
        histories = {i.workflow_id: engine.history(i.workflow_id) for i in engine.list()}
    EXECUTIONS.clear()
    replayer = aion.Replayer(ALL_WORKFLOWS, ALL_ACTIVITIES)
    for workflow_id, history in histories.items():
        result = replayer.replay(history, workflow_id)
        assert result.ok and result.status in ("completed", "failed"), (workflow_id, result)
    assert replayer.replay(histories["wf"], "wf").result == expected
    assert EXECUTIONS == []  # replay never runs an activity
    points = check_recovery_everywhere(
        workflow,
        [],
        workflows=ALL_WORKFLOWS,
        activities=ALL_ACTIVITIES,
        epoch=epoch,
        signals=signals,
        executions=EXECUTIONS,
    )
    assert points >= 3


def test_fail_fast_cancels_pending_members_and_records_it(epoch: datetime) -> None:
    with engine_for(epoch) as engine:
        engine.start(fail_fast, workflow_id="f")
        engine.run_until_complete("f")
        history = engine.history("f")
    cancelled = [(e.ordinal, e.reason) for e in history if isinstance(e, CommandCancelled)]
    assert cancelled == [(2, "a sibling failed"), (4, "a sibling failed")]
    assert not any(isinstance(e, TimerFired) for e in history)


def test_race_losers_are_cancelled_and_recorded(epoch: datetime) -> None:
    with engine_for(epoch) as engine:
        engine.start(racing, workflow_id="r")
        engine.run_until_complete("r")
        history = engine.history("r")
    reasons = [(e.ordinal, e.reason) for e in history if isinstance(e, CommandCancelled)]
    assert (2, "lost the race") in reasons  # the one-hour sleep lost to the activity
    assert (6, "lost the race") in reasons  # the signal lost to the 10 s sleep


def test_collect_race_of_nothing_is_a_clear_error() -> None:
    with pytest.raises(
        aion.ConfigurationError, match="collect_race\\(\\) needs at least one command"
    ):
        aion.collect_race([])


@aion.workflow
def slow_race():  # type: ignore[no-untyped-def]
    return (yield aion.collect_race([aion.call(slow, 1, 0.5), aion.call(slow, 2, 0.0)]))


def test_race_is_decided_by_recorded_order_not_by_replay_timing() -> None:
    # Live: member 2 (no delay) finishes first and wins.
    with aion.Engine(store=aion.MemoryStore(), workflows=[slow_race], activities=[slow]) as engine:
        engine.start(slow_race, workflow_id="sr")
        assert engine.run_until_complete("sr", timeout=10) == [1, 2]
        history = engine.history("sr")
    completions = [e.ordinal for e in history if isinstance(e, ActivityCompleted)]
    assert completions == [3]  # member 2 (ordinal 3) recorded; member 1 was cancelled

    # Now member 1 would win (it no longer sleeps), but replay follows history.
    @aion.activity(name="slow")
    def fast_now(n: int, seconds: float) -> int:
        return n

    replayed = aion.Replayer([slow_race], [fast_now]).replay(history)
    assert replayed.result == (1, 2)
    # A crash right after the winner's completion was committed: the recovered
    # engine keeps the recorded winner although member 1 would now win live.
    winner = history.index(next(e for e in history if isinstance(e, ActivityCompleted)))
    store = store_with({"sr": history[: winner + 1]})
    with aion.Engine(store=store, workflows=[slow_race], activities=[fast_now]) as engine:
        assert engine.run_until_complete("sr", timeout=10) == [1, 2]


def test_collect_map_respects_concurrency() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    @aion.activity(name="double")
    def counted(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n * 2

    with aion.Engine(store=aion.MemoryStore(), workflows=[mapped], activities=[counted]) as engine:
        engine.start(mapped, workflow_id="m")
        assert engine.run_until_complete("m", timeout=10) == [2, 4, 6, 8, 10]
        scheduled = [
            e.ordinal for e in engine.history("m") if type(e).__name__ == "ActivityScheduled"
        ]
    assert peak == 2
    assert scheduled == [2, 3, 4, 5, 6]  # the block reserved at the group's ordinal 1


def test_children_are_full_workflows(epoch: datetime) -> None:
    with engine_for(epoch) as engine:
        engine.start(parent_of_children, workflow_id="p")
        engine.run_until_complete("p")
        listed = {i.workflow_id: (i.workflow_type, i.status, i.parent_id) for i in engine.list()}
        child_history = engine.history("p/1")
        started = [e for e in engine.history("p") if isinstance(e, ChildStarted)]
    assert listed == {
        "p": ("parent_of_children", "completed", None),
        "p/1": ("child", "completed", "p"),
        "explicit-child": ("child", "completed", "p"),
        "p/4": ("failing_child", "failed", "p"),
    }
    assert child_history[0].parent_id == "p"  # type: ignore[attr-defined]
    assert [s.child_id for s in started] == ["p/1", "explicit-child", "p/4"]


@aion.workflow
def waits_for_signal():  # type: ignore[no-untyped-def]
    return (yield aion.receive_signal("hello"))


@aion.workflow
def signals_a_child():  # type: ignore[no-untyped-def]
    handle = yield aion.start_child(waits_for_signal)
    yield aion.send_signal(handle.workflow_id, "hello", "from parent")
    try:
        yield aion.send_signal("nobody", "hello", 1)
    except aion.SignalDeliveryError as err:
        missing = str(err)
    return [(yield aion.await_child(handle)), missing]


def test_send_signal_reaches_children_and_unknown_targets_raise(epoch: datetime) -> None:
    flows = [signals_a_child, waits_for_signal]
    with aion.Engine(
        store=aion.MemoryStore(), workflows=flows, clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(signals_a_child, workflow_id="s")
        assert engine.run_until_complete("s") == ["from parent", "workflow 'nobody' does not exist"]
    check_recovery_everywhere(
        signals_a_child, [], workflows=flows, activities=[], epoch=epoch, workflow_id="s"
    )


@aion.workflow(name="everything_at_once")
def everything_swapped():  # type: ignore[no-untyped-def]
    values = yield aion.collect_all(
        [
            aion.sleep(30),
            aion.call(double, 1),
            aion.receive_signal("x"),
            aion.await_child(child, 3),
            aion.collect_all([aion.call(double, 2), aion.call(double, 3)]),
        ]
    )
    return values


@aion.workflow(name="racing")
def racing_changed_timeout():  # type: ignore[no-untyped-def]
    index, value = yield aion.collect_race([aion.sleep(1800), aion.call(double, 21)])
    return [index, value]


@aion.workflow(name="mapped")
def mapped_more():  # type: ignore[no-untyped-def]
    return (yield aion.collect_map(double, [1, 2, 3, 4, 5, 6], concurrency=2))


@aion.workflow(name="parent_of_children")
def parent_other_child():  # type: ignore[no-untyped-def]
    handle = yield aion.start_child(child, 11)
    return handle.workflow_id


@pytest.mark.parametrize(
    ("original", "changed", "signals", "seq"),
    [
        (everything_at_once, everything_swapped, [("wf", "x", 1)], 3),
        (racing, racing_changed_timeout, [], 3),
        (mapped, mapped_more, [], 2),
        (parent_of_children, parent_other_child, [], 2),
    ],
    ids=[
        "collect_all-members-swapped",
        "race-timer-changed",
        "map-items-changed",
        "child-args-changed",
    ],
)
def test_changed_composition_is_reported_at_the_right_seq(
    epoch: datetime, original: Any, changed: Any, signals: list[tuple[str, str, Any]], seq: int
) -> None:
    _, store = run_once(
        original,
        [],
        workflows=ALL_WORKFLOWS,
        activities=ALL_ACTIVITIES,
        epoch=epoch,
        signals=signals,
    )
    history = store.history("wf")
    report = aion.replay(changed, history)
    assert report.divergence is not None
    assert report.divergence.seq == seq
