"""Issue 11, defect 6: `run_until_complete` under ManualClock jumps only for the awaited workflow.

Another workflow's recurring timer must not keep the clock jumping while the
awaited one waits for a signal nobody sends: it is blocked, and says so. Timers
of the awaited workflow's running children (and its own activity retries) still
move it on, with every other timer on the way firing in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import aion


@aion.workflow(name="bounds.ticker")
def ticker(ticks: int) -> aion.WorkflowGen[int]:
    """A recurring timer: ticks once an hour."""
    for _ in range(ticks):
        yield aion.sleep(timedelta(hours=1))
    return ticks


@aion.workflow(name="bounds.waiter")
def waiter() -> aion.WorkflowGen[object]:
    """Waits for a signal nobody sends."""
    value = yield aion.receive_signal("never")
    return value


@aion.workflow(name="bounds.sleeper")
def sleeper() -> aion.WorkflowGen[str]:
    """Sleeps for a day."""
    yield aion.sleep(timedelta(days=1))
    return "rested"


@aion.workflow(name="bounds.parent")
def parent() -> aion.WorkflowGen[object]:
    """Awaits a child that sleeps for a day."""
    value = yield aion.await_child(sleeper)
    return value


WORKFLOWS = [ticker, waiter, sleeper, parent]


def test_another_workflows_recurring_timer_does_not_keep_a_blocked_one_waiting(
    epoch: datetime,
) -> None:
    clock = aion.ManualClock(epoch)
    with aion.Engine(":memory:", workflows=WORKFLOWS, clock=clock) as engine:
        engine.start(ticker, 50, workflow_id="ticker")
        engine.start(waiter, workflow_id="w")
        with pytest.raises(aion.WorkflowBlocked, match="signal 'never'"):
            engine.run_until_complete("w")
        # Blocked at once: the clock did not chase the ticker's timers.
        assert clock.now() == epoch
        assert engine.describe("ticker").status == "running"
        assert engine.run_until_complete("ticker") == 50


def test_a_childs_timer_moves_the_parent_on_and_others_fire_on_the_way(epoch: datetime) -> None:
    clock = aion.ManualClock(epoch)
    with aion.Engine(":memory:", workflows=WORKFLOWS, clock=clock) as engine:
        engine.start(ticker, 30, workflow_id="ticker")
        engine.start(parent, workflow_id="p")
        assert engine.run_until_complete("p") == "rested"
        assert clock.now() == epoch + timedelta(days=1)
        fired = [e for e in engine.history("ticker") if type(e).__name__ == "TimerFired"]
        assert len(fired) == 24  # every hour on the way, none past the child's timer
        engine.start(waiter, workflow_id="w")
        with pytest.raises(aion.WorkflowBlocked):
            engine.run_until_complete("w")
        assert clock.now() == epoch + timedelta(days=1)
