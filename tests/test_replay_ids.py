"""Replaying a history needs no workflow id: it is recorded in the started event."""

from __future__ import annotations

from datetime import datetime

import aion
from aion._events import WorkflowStarted


@aion.workflow
def little(n: int):  # type: ignore[no-untyped-def]
    return n + (yield aion.random()) * 0


@aion.workflow
def family():  # type: ignore[no-untyped-def]
    draw = yield aion.random()
    kid = yield aion.await_child(little, 1)
    return [round(draw, 6), kid]


def test_replay_uses_the_recorded_workflow_id(epoch: datetime) -> None:
    with aion.Engine(
        store=aion.MemoryStore(), workflows=[family, little], clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(family, workflow_id="fam-1")
        result = engine.run_until_complete("fam-1")
        history = engine.history("fam-1")
    started = history[0]
    assert isinstance(started, WorkflowStarted) and started.workflow_id == "fam-1"
    replayed = aion.replay(family, history)  # no workflow_id given
    assert replayed.ok, replayed.divergence
    assert replayed.workflow_id == "fam-1"
    assert replayed.result == result
