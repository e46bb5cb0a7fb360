"""Cancellation (and the saga example), continue-as-new, patched, queries."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import aion
from aion._events import (
    ActivityScheduled,
    CancelRequested,
    CommandCancelled,
    PatchRecorded,
    SignalReceived,
    WorkflowCancelled,
    WorkflowContinuedAsNew,
    WorkflowStarted,
)
from examples import saga
from tests.helpers import check_recovery_everywhere, drive, run_once


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.jsonl"
    monkeypatch.setattr(saga, "LEDGER", path)
    return path


def effects(ledger: Path) -> list[tuple[str, str]]:
    return [(d["action"], d["subject"]) for d in map(json.loads, ledger.read_text().splitlines())]


def saga_engine(epoch: datetime) -> aion.Engine:
    return aion.Engine(
        store=aion.MemoryStore(),
        workflows=saga.WORKFLOWS,
        activities=saga.ACTIVITIES,
        clock=aion.ManualClock(start=epoch),
    )


def test_saga_ships_when_nothing_goes_wrong(epoch: datetime, ledger: Path) -> None:
    with saga_engine(epoch) as engine:
        engine.start(saga.trip, "t1", 100, workflow_id="t1")
        assert engine.run_until_complete("t1") == {
            "booking": "book:t1",
            "charge": "charge:t1/100",
            "tickets": "ship:t1",
        }
    assert effects(ledger) == [("book", "t1"), ("charge", "t1/100"), ("ship", "t1")]


def test_saga_compensates_in_reverse_when_a_step_fails(epoch: datetime, ledger: Path) -> None:
    with saga_engine(epoch) as engine:
        engine.start(saga.trip, "fail-x", 100, workflow_id="f")
        with pytest.raises(aion.WorkflowFailedError, match="no tickets left for fail-x") as info:
            engine.run_until_complete("f")
    assert info.value.error_type == "aion.ActivityError"
    assert effects(ledger) == [
        ("book", "fail-x"),
        ("charge", "fail-x/100"),
        ("refund", "charge:fail-x/100"),
        ("unbook", "book:fail-x"),
    ]


CANCEL_MIDWAY = [("wf", "!cancel", "changed my mind", "idle")]


def test_cancel_in_the_middle_compensates_and_ends_cancelled(epoch: datetime, ledger: Path) -> None:
    with saga_engine(epoch) as engine:
        engine.start(saga.trip, "t2", 300, workflow_id="wf")
        with pytest.raises(aion.WorkflowCancelledError, match="changed my mind"):
            drive(engine, "wf", CANCEL_MIDWAY)
        history = engine.history("wf")
        assert engine.describe("wf").status == "cancelled"
        with pytest.raises(aion.WorkflowClosed, match="is cancelled and cannot take a signal"):
            engine.signal("wf", "anything")
    assert effects(ledger) == [
        ("book", "t2"),
        ("charge", "t2/300"),
        ("refund", "charge:t2/300"),
        ("unbook", "book:t2"),
    ]
    kinds = [type(e).__name__ for e in history]
    assert (
        kinds.index("CancelRequested")
        < kinds.index("CommandCancelled")
        < kinds.index("WorkflowCancelled")
    )
    cancelled = next(e for e in history if isinstance(e, CommandCancelled))
    assert cancelled.reason == "workflow cancelled"  # the pending one-hour timer
    assert isinstance(history[-1], WorkflowCancelled)
    assert aion.replay(saga.trip, history).status == "cancelled"


def test_saga_compensates_exactly_once_across_crashes_during_compensation(
    epoch: datetime, ledger: Path
) -> None:
    points = check_recovery_everywhere(
        saga.trip,
        ["t3", 700],
        workflows=saga.WORKFLOWS,
        activities=saga.ACTIVITIES,
        epoch=epoch,
        signals=CANCEL_MIDWAY,
    )
    assert points >= 5
    # Every recovery re-ran the remaining steps of the same recorded run against the
    # same ledger; an undo re-run after a crash carries the same idempotency key, so
    # each effect is there exactly once.
    assert effects(ledger) == [
        ("book", "t3"),
        ("charge", "t3/700"),
        ("refund", "charge:t3/700"),
        ("unbook", "book:t3"),
    ]


@aion.workflow
def patient_parent():  # type: ignore[no-untyped-def]
    yield aion.start_child(patient_child)
    yield aion.receive_signal("never")


@aion.workflow
def patient_child():  # type: ignore[no-untyped-def]
    yield aion.receive_signal("never")


def test_cancelling_a_parent_cancels_its_children(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(),
        workflows=[patient_parent, patient_child],
        clock=aion.ManualClock(start=epoch),
    ) as engine:
        engine.start(patient_parent, workflow_id="p")
        engine.run_until_idle()
        engine.cancel("p", "shutting down")
        engine.run_until_idle()
        assert engine.describe("p").status == "cancelled"
        assert engine.describe("p/1").status == "cancelled"
        reason = next(e for e in engine.history("p/1") if isinstance(e, CancelRequested)).reason
    assert reason == "parent 'p' was cancelled"


@aion.workflow
def counter(total: int, remaining: int):  # type: ignore[no-untyped-def]
    if remaining == 0:
        return total
    yield aion.sleep(1)  # signals sent meanwhile are buffered in this run
    n = yield aion.receive_signal("add")
    yield aion.continue_as_new(total + n, remaining - 1)


def test_continue_as_new_keeps_history_by_run_and_carries_signals(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(), workflows=[counter], clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(counter, 0, 3, workflow_id="c")
        for n in (1, 2, 3):  # all three arrive before the first run switches
            engine.signal("c", "add", n)
        assert engine.run_until_complete("c") == 6
        history = engine.history("c")
        info = engine.describe("c")
    starts = [e for e in history if isinstance(e, WorkflowStarted)]
    assert len(starts) == 4 and info.runs == 4
    assert len({s.run_id for s in starts}) == 4
    assert [s.args for s in starts] == [[0, 3], [1, 2], [3, 1], [6, 0]]
    assert [s.previous_run_id for s in starts[1:]] == [s.run_id for s in starts[:-1]]
    # counters restart: each run's receive is ordinal 1
    assert {e.ordinal for e in history if type(e).__name__ == "SignalAwaited"} == {2}
    received = [(e.payload, e.run_id) for e in history if isinstance(e, SignalReceived)]
    run = [s.run_id for s in starts]
    # run 1 consumed 1 and carried 2 and 3 over; run 2 consumed 2 and carried 3
    assert received == [
        (1, run[0]),
        (2, run[0]),
        (3, run[0]),
        (2, run[1]),
        (3, run[1]),
        (3, run[2]),
    ]
    assert sum(isinstance(e, WorkflowContinuedAsNew) for e in history) == 3
    assert aion.replay(counter, history).result == 6
    check_recovery_everywhere(
        counter,
        [0, 3],
        workflows=[counter],
        activities=[],
        epoch=epoch,
        signals=[("wf", "add", 1, "now"), ("wf", "add", 2, "now"), ("wf", "add", 3, "now")],
    )


@aion.activity
def old_step() -> str:
    return "old"


@aion.activity
def new_step() -> str:
    return "new"


@aion.workflow(name="versioned")
def before_change():  # type: ignore[no-untyped-def]
    yield aion.sleep(60)
    return (yield aion.call(old_step))


@aion.workflow(name="versioned")
def after_change():  # type: ignore[no-untyped-def]
    yield aion.sleep(60)
    if (yield aion.patched("use-new-step")):
        return (yield aion.call(new_step))
    return (yield aion.call(old_step))


STEPS = [old_step, new_step]


def test_patched_is_false_replaying_old_histories_and_true_for_new_runs(
    tmp_path: Path, epoch: datetime
) -> None:
    _, old_store = run_once(
        before_change, [], workflows=[before_change], activities=STEPS, epoch=epoch
    )
    old_history = old_store.history("wf")
    replayed = aion.replay(after_change, old_history)
    assert replayed.ok and replayed.result == "old"

    _, new_store = run_once(
        after_change, [], workflows=[after_change], activities=STEPS, epoch=epoch
    )
    new_history = new_store.history("wf")
    markers = [e for e in new_history if isinstance(e, PatchRecorded)]
    assert [m.name for m in markers] == ["use-new-step"]
    assert aion.replay(after_change, new_history).result == "new"
    # code that dropped the marker's branch no longer matches the new history
    assert aion.replay(before_change, new_history).divergence is not None

    # a run recorded before the change, mid-sleep, reaches the marker under new code: True
    path = str(tmp_path / "p.duckdb")
    with aion.Engine(
        path, workflows=[before_change], activities=STEPS, clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(before_change, workflow_id="mid")
        engine.run_until_idle()
    with aion.Engine(
        path, workflows=[after_change], activities=STEPS, clock=aion.ManualClock(start=epoch)
    ) as engine:
        assert engine.run_until_complete("mid") == "new"
    check_recovery_everywhere(
        after_change, [], workflows=[after_change], activities=STEPS, epoch=epoch
    )


@aion.workflow
def queryable():  # type: ignore[no-untyped-def]
    stage = "starting"
    items: list[str] = []
    yield aion.on_query("stage", lambda: stage)
    yield aion.on_query("items", lambda prefix="": [prefix + i for i in items])
    yield aion.on_query("broken", lambda: 1 / 0)
    for name in ("a", "b"):
        stage = f"waiting for {name}"
        items.append((yield aion.receive_signal(name)))
    stage = "done"
    return items


def test_queries_answer_live_and_after_close_and_record_nothing(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(), workflows=[queryable], clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(queryable, workflow_id="q")
        engine.run_until_idle()
        assert engine.query("q", "stage") == "waiting for a"
        engine.signal("q", "a", "x")
        engine.run_until_idle()
        before = engine.history("q")
        assert engine.query("q", "stage") == "waiting for b"
        assert engine.query("q", "items", "#") == ["#x"]
        assert engine.history("q") == before  # a query never records anything
        with pytest.raises(
            aion.QueryError, match=r"has no query 'nope' \(registered: broken, items, stage\)"
        ):
            engine.query("q", "nope")
        with pytest.raises(
            aion.QueryError, match="query 'broken' on workflow 'q' raised ZeroDivisionError"
        ):
            engine.query("q", "broken")
        engine.signal("q", "b", "y")
        engine.run_until_complete("q")
        assert engine.query("q", "stage") == "done"  # closed: answered by replaying history
        with pytest.raises(aion.WorkflowNotFound):
            engine.query("missing", "stage")


@aion.workflow(name="queryable")
def queryable_changed():  # type: ignore[no-untyped-def]
    yield aion.on_query("stage", lambda: "x")
    return (yield aion.receive_signal("b"))


def test_changed_signal_order_is_a_divergence(epoch: datetime) -> None:
    _, store = run_once(
        queryable,
        [],
        workflows=[queryable],
        activities=[],
        epoch=epoch,
        signals=[("wf", "a", 1), ("wf", "b", 2)],
    )
    report = aion.replay(queryable_changed, store.history("wf"))
    assert report.divergence is not None and report.divergence.seq == 2
    assert report.divergence.recorded["name"] == "a" and report.divergence.current["name"] == "b"


@aion.workflow(name="trip")
def trip_undo_reordered(trip_id: str, cents: int):  # type: ignore[no-untyped-def]
    """The saga with its compensation order changed (unbook before refund)."""
    undo: list[Any] = []
    try:
        booking = yield aion.call(saga.book_hotel, trip_id)
        undo.append(aion.call(saga.cancel_hotel, booking))
        charge = yield aion.call(saga.charge_card, trip_id, cents)
        undo.append(aion.call(saga.refund_card, charge))
        yield aion.sleep(3600)
        tickets = yield aion.call(saga.ship_tickets, trip_id)
    except (aion.ActivityError, aion.Cancelled):
        for step in undo:
            yield step
        raise
    return {"booking": booking, "charge": charge, "tickets": tickets}


def test_changed_compensation_under_a_cancelled_history_is_a_divergence(
    epoch: datetime, ledger: Path
) -> None:
    _, store = run_once(
        saga.trip,
        ["t4", 1],
        workflows=saga.WORKFLOWS,
        activities=saga.ACTIVITIES,
        epoch=epoch,
        signals=CANCEL_MIDWAY,
    )
    history = store.history("wf")
    report = aion.replay(trip_undo_reordered, history)
    assert report.divergence is not None
    first_undo = next(
        e for e in history if isinstance(e, ActivityScheduled) and e.name == "refund_card"
    )
    assert report.divergence.seq == first_undo.seq
    assert (report.divergence.recorded["name"], report.divergence.current["name"]) == (
        "refund_card",
        "cancel_hotel",
    )


@aion.workflow(name="counter")
def counter_doubling(total: int, remaining: int):  # type: ignore[no-untyped-def]
    if remaining == 0:
        return total
    yield aion.sleep(1)
    n = yield aion.receive_signal("add")
    yield aion.continue_as_new(total + 2 * n, remaining - 1)


def test_changed_continue_as_new_arguments_are_a_divergence(epoch: datetime) -> None:
    _, store = run_once(
        counter,
        [0, 2],
        workflows=[counter],
        activities=[],
        epoch=epoch,
        signals=[("wf", "add", 5, "now"), ("wf", "add", 6, "now")],
    )
    history = store.history("wf")
    report = aion.replay(counter_doubling, history)
    assert report.divergence is not None
    ended = next(e for e in history if isinstance(e, WorkflowContinuedAsNew))
    assert report.divergence.seq == ended.seq
    assert report.divergence.recorded["kind"] == "WorkflowContinuedAsNew"


def test_queries_answer_after_a_crash_from_the_replayed_generator(
    tmp_path: Path, epoch: datetime
) -> None:
    path = str(tmp_path / "q.duckdb")
    with aion.Engine(path, workflows=[queryable], clock=aion.ManualClock(start=epoch)) as engine:
        engine.start(queryable, workflow_id="q")
        engine.signal("q", "a", "first")
        engine.run_until_idle()
    # a new engine (as after a crash) rebuilds the generator by replay and answers from it
    with aion.Engine(path, workflows=[queryable], clock=aion.ManualClock(start=epoch)) as engine:
        assert engine.query("q", "stage") == "waiting for b"
        assert engine.query("q", "items") == ["first"]
