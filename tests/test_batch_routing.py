"""Events committed together are routed to the run they belong to, never past a run's end.

An activity that finishes (or a timer that fires) while its run is deciding
its end is an outcome for a command the end cancelled: recording it after the
run's terminal event would make the history say the workflow went on after it
ended (and the last event would no longer be the outcome).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aion_cli.main import cli
from click.testing import CliRunner

import aion
from aion._events import WorkflowCompleted
from aion.testing._executor import ScheduledExecutor


@aion.activity(name="routing.echo")
def echo(x: int) -> int:
    """Returns its argument."""
    return x


@aion.workflow(name="routing.race")
def race() -> aion.WorkflowGen[object]:
    """An activity racing a signal; the signal wins, so the workflow ends at once."""
    winner = yield aion.collect_race([aion.call(echo, 1), aion.receive_signal("x")])
    return winner


def test_an_activity_finishing_as_its_run_ends_is_not_recorded_after_the_end(
    epoch: datetime,
) -> None:
    executor = ScheduledExecutor()
    engine = aion.Engine(
        ":memory:",
        workflows=[race],
        activities=[echo],
        executor=executor,
        clock=aion.ManualClock(epoch),
    )
    with engine:
        engine.start(race, workflow_id="w")
        engine.run_until_idle()
        (attempt,) = executor.pending()
        engine.signal("w", "x", 5)  # the race is decided; its end is queued, not committed
        executor.complete(attempt)  # ...and the losing activity reports in the meantime
        engine.run_until_idle()
        history = engine.history("w")
        assert isinstance(history[-1], WorkflowCompleted)
        assert engine.run_until_complete("w") == [1, 5]
        assert engine.describe("w").status == "completed"


@aion.workflow(name="routing.waiter")
def waiter() -> aion.WorkflowGen[object]:
    """Ends as soon as its signal arrives."""
    value = yield aion.receive_signal("go")
    return value


@aion.workflow(name="routing.forwarder")
def forwarder(target: str) -> aion.WorkflowGen[str]:
    """On its signal, passes one on to ``target``."""
    yield aion.receive_signal("go")
    try:
        yield aion.send_signal(target, "late", 1)
    except aion.SignalDeliveryError:
        return "undelivered"
    return "delivered"


@aion.workflow(name="routing.parent")
def parent() -> aion.WorkflowGen[object]:
    """Awaits a waiter child (and is cancelled while it does)."""
    value = yield aion.await_child(waiter, workflow_id="kid")
    return value


def _offline(path: str, *requests: tuple[str, ...]) -> None:
    """Write signals and cancel requests as the CLI does with no worker running."""
    runner = CliRunner(env={"AION_DB": path, "NO_COLOR": "1"})
    for request in requests:
        result = runner.invoke(cli, list(request), catch_exceptions=False)
        assert result.exit_code == 0, result.output


def _nothing_after_the_end(history: list[aion._events.Event]) -> None:
    ends = [i for i, e in enumerate(history) if isinstance(e, WorkflowCompleted)]
    assert ends == [len(history) - 1], [type(e).__name__ for e in history]


def test_a_signal_sent_to_a_workflow_ending_in_the_same_batch_is_refused(
    tmp_path: Path, epoch: datetime
) -> None:
    path = str(tmp_path) + "/forward.duckdb"
    with aion.Engine(path, workflows=[waiter, forwarder], clock=aion.ManualClock(epoch)) as e:
        e.start(waiter, workflow_id="t")
        e.start(forwarder, "t", workflow_id="s")
        e.run_until_idle()
    # Both wake up in the same batch when the next engine opens the file: t decides
    # its end while s decides to signal it.
    _offline(path, ("signal", "t", "go", "1"), ("signal", "s", "go", "1"))
    with aion.Engine(path, workflows=[waiter, forwarder]) as engine:
        assert engine.run_until_complete("t") == 1
        assert engine.run_until_complete("s") == "undelivered"
        _nothing_after_the_end(engine.history("t"))


def test_a_cancel_cascading_to_a_child_that_just_ended_is_not_recorded(
    tmp_path: Path, epoch: datetime
) -> None:
    path = str(tmp_path) + "/cascade.duckdb"
    with aion.Engine(path, workflows=[parent, waiter], clock=aion.ManualClock(epoch)) as e:
        e.start(parent, workflow_id="p")
        e.run_until_idle()
    _offline(path, ("cancel", "p"), ("signal", "kid", "go", "2"))
    with aion.Engine(path, workflows=[parent, waiter]) as engine:
        assert engine.run_until_complete("kid") == 2
        assert engine.describe("p").status == "cancelled"
        _nothing_after_the_end(engine.history("kid"))
