"""A runtime can let go of one workflow and adopt it again: the seam shared workers build on.

`Runtime.release` forgets a workflow in memory (instance, attempts, timers,
queue) and leaves its history as committed; `adopt` takes given workflows
back from their histories, as recovery does for every open one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aion
from aion._engine._recovery import adopt
from aion._events import TimerFired
from aion.store import MemoryStore


@aion.activity
def triple(x: int) -> int:
    return 3 * x


@aion.workflow
def dozer(x: int):  # type: ignore[no-untyped-def]
    first = yield aion.call(triple, x)
    yield aion.sleep(timedelta(seconds=10))
    return first + 1


def make(clock: aion.ManualClock) -> aion.Engine:
    return aion.Engine(store=MemoryStore(), workflows=[dozer], activities=[triple], clock=clock)


def fired(engine: aion.Engine, workflow_id: str) -> list[Any]:
    return [e for e in engine.history(workflow_id) if isinstance(e, TimerFired)]


def test_a_released_workflow_is_not_driven_until_it_is_adopted_again() -> None:
    clock = aion.ManualClock()
    with make(clock) as engine:
        engine.start(dozer, 1, workflow_id="kept")
        engine.start(dozer, 2, workflow_id="let-go")
        engine.run_until_idle()  # both called their activity and sleep now
        runtime = engine._runtime
        with runtime.lock:
            runtime.release("let-go")
        assert "let-go" not in runtime.state.instances
        clock.advance(timedelta(seconds=11))
        engine.run_until_idle()
        assert engine.describe("kept").status == "completed"
        assert engine.describe("let-go").status == "running"
        assert fired(engine, "let-go") == []  # its timer went with it
        with runtime.lock:
            info = engine.store.info("let-go")
            assert info is not None
            adopt(runtime, [info])
        assert engine.run_until_complete("let-go") == 7
        assert len(fired(engine, "let-go")) == 1


def test_releasing_a_workflow_that_waits_on_an_attempt_ignores_its_report() -> None:
    clock = aion.ManualClock()
    with make(clock) as engine:
        runtime = engine._runtime
        with runtime.lock:
            engine.start(dozer, 5, workflow_id="w")
            runtime.step()  # records the call and dispatches its first attempt
            assert len(runtime.attempts.inflight) == 1
            runtime.release("w")  # before any step applies the attempt's report
            assert runtime.attempts.inflight == {}
            # The attempt still reports (the pool ran it); the next step ignores it.
            assert runtime.cond.wait_for(lambda: bool(runtime.inbox), timeout=30)
            runtime.step()
        history = engine.history("w")
        assert [type(e).__name__ for e in history] == ["WorkflowStarted", "ActivityScheduled"]
        with runtime.lock:
            info = engine.store.info("w")
            assert info is not None
            adopt(runtime, [info])  # the call had no outcome recorded: it runs again
        assert engine.run_until_complete("w") == 16
