"""Issue 11, defect 7: an exception from ``store.append`` that is not a store error is contained.

The batch used to stay queued and fail every later commit, so one workflow the
store refused wedged the whole engine. Now the batch is written again one
workflow at a time: the others go on, and the refused workflow is stalled
with the reason (recorded if the store takes that much, in memory if not). A
restart on a store that accepts its events resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

import aion
from aion._events import kind_of
from aion.store import Append
from aion.testing._executor import ScheduledExecutor


class RefusingStore(aion.DuckDBStore):
    """A real DuckDB store whose ``append`` raises for one workflow, as a buggy store would.

    Args:
        path: The database file.
        workflow_id: The workflow whose events it refuses.
        kinds: The event kinds it refuses (None: every event of that workflow).
    """

    def __init__(self, path: str, workflow_id: str, kinds: set[str] | None = None) -> None:
        super().__init__(path)
        self.refused_id = workflow_id
        self.refused_kinds = kinds
        self.refusals = 0

    def append(self, batch: Sequence[Append]) -> None:
        for item in batch:
            if item.workflow_id != self.refused_id:
                continue
            kinds = {kind_of(e) for e in item.events}
            if self.refused_kinds is None or kinds & self.refused_kinds:
                self.refusals += 1
                msg = f"cannot encode a payload of {item.workflow_id}"
                raise RuntimeError(msg)
        super().append(batch)


@aion.activity(name="refusal.double")
def double(x: int) -> int:
    """Doubles ``x``."""
    return x * 2


@aion.workflow(name="refusal.flow")
def flow(x: int) -> aion.WorkflowGen[int]:
    """One activity call."""
    value = yield aion.call(double, x)
    return value


@aion.workflow(name="refusal.waiter")
def waiter() -> aion.WorkflowGen[object]:
    """Waits for a signal."""
    value = yield aion.receive_signal("go")
    return value


def _engine(store: aion.DuckDBStore, executor: ScheduledExecutor, epoch: datetime) -> aion.Engine:
    return aion.Engine(
        store=store,
        workflows=[flow, waiter],
        activities=[double],
        executor=executor,
        clock=aion.ManualClock(epoch),
    )


def _complete_all(engine: aion.Engine, executor: ScheduledExecutor) -> None:
    engine.run_until_idle()
    for attempt in executor.pending():
        executor.complete(attempt)
    engine.run_until_idle()


def test_one_refused_workflow_is_stalled_and_the_others_go_on(
    tmp_path: Path, epoch: datetime
) -> None:
    path = str(tmp_path / "refuse.duckdb")
    store = RefusingStore(path, "bad", kinds={"ActivityCompleted"})
    executor = ScheduledExecutor()
    engine = _engine(store, executor, epoch)
    try:
        engine.start(flow, 1, workflow_id="bad")
        engine.start(flow, 2, workflow_id="good")
        engine.run_until_idle()
        assert len(executor.pending()) == 2
        _complete_all(engine, executor)  # both outcomes in one batch: the store raises
        assert store.refusals >= 1
        assert engine.run_until_complete("good") == 4
        description = engine.describe("bad")
        assert description.status == "stalled"
        assert description.stalled_reason is not None
        assert "RuntimeError: cannot encode a payload of bad" in description.stalled_reason
        with pytest.raises(aion.WorkflowStalledError, match="cannot encode a payload of bad"):
            engine.run_until_complete("bad")
        # The engine is not wedged: new work commits and runs.
        engine.start(flow, 5, workflow_id="later")
        _complete_all(engine, executor)
        assert engine.run_until_complete("later") == 10
    finally:
        engine.close()
        store.close()
    # Fixed store: a restart replays the stalled workflow, resumes it and finishes it.
    with aion.Engine(path, workflows=[flow, waiter], activities=[double]) as healthy:
        assert healthy.run_until_complete("bad") == 2
        kinds = [type(e).__name__ for e in healthy.history("bad")]
        assert kinds.count("WorkflowStalled") == 1 and "WorkflowResumed" in kinds
        assert [e.seq for e in healthy.history("bad")] == list(range(1, len(kinds) + 1))


def test_a_workflow_whose_every_event_is_refused_does_not_stop_the_others(
    tmp_path: Path, epoch: datetime
) -> None:
    path = str(tmp_path / "refuse-all.duckdb")
    store = RefusingStore(path, "nobody")  # refuses nothing yet
    executor = ScheduledExecutor()
    engine = _engine(store, executor, epoch)
    try:
        engine.start(waiter, workflow_id="bad")
        engine.start(waiter, workflow_id="good")
        engine.run_until_idle()
        store.refused_id = "bad"  # from now on, every append for "bad" raises
        with pytest.raises(aion.StoreError, match="could not record this for workflow 'bad'"):
            engine.signal("bad", "go", 1)
        engine.signal("good", "go", 2)
        assert engine.run_until_complete("good") == 2
        with pytest.raises(aion.WorkflowStalledError, match="refused to record its events"):
            engine.run_until_complete("bad")
        # Stalled in memory only (the store took not even the stall): describe says so.
        description = engine.describe("bad")
        assert description.status == "stalled", description.status
        assert description.stalled_reason is not None
        assert "refused to record its events" in description.stalled_reason
        assert engine.describe("good").status == "completed"
        # A start the store refuses is an error for its caller, and records nothing.
        store.refused_id = "never"
        with pytest.raises(aion.StoreError, match="'never' was not started"):
            engine.start(flow, 3, workflow_id="never")
        assert store.info("never") is None
        engine.start(flow, 4, workflow_id="fine")
        _complete_all(engine, executor)
        assert engine.run_until_complete("fine") == 8
    finally:
        engine.close()
        store.close()
