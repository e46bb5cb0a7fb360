"""Outcomes committed together are applied lowest ordinal first (issue 11, defect 3).

Two children that end in the same step reach their parent in one batch.
Fail-fast raises the lowest ordinal's failure, a race goes to the lowest
ordinal, and a member whose outcome is already recorded is never cancelled
(no `CommandCancelled` after its outcome), live and on replay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aion
from aion._events import (
    ChildCompleted,
    ChildFailed,
    CommandCancelled,
    Event,
    WorkflowStarted,
)


@aion.workflow
def on_signal(fail: bool) -> Any:
    value = yield aion.receive_signal("go")
    if fail:
        raise ValueError(f"child failed with {value}")
    return value


@aion.workflow
def all_of_two() -> Any:
    try:
        yield aion.collect_all(
            [
                aion.await_child(on_signal, True, workflow_id="all/a"),
                aion.await_child(on_signal, True, workflow_id="all/b"),
            ]
        )
    except aion.ChildWorkflowError as err:
        return err.child_id
    return None


@aion.workflow
def race_of_two() -> Any:
    index, value = yield aion.collect_race(
        [
            aion.await_child(on_signal, False, workflow_id="race/a"),
            aion.await_child(on_signal, False, workflow_id="race/b"),
        ]
    )
    return [index, value]


@aion.workflow
def sender(targets: list[str]) -> Any:
    # One batch delivers every signal; the later target is sent to first, so its
    # end (and its outcome in the parent) would be queued first.
    yield aion.collect_all([aion.send_signal(t, "go", t) for t in targets])
    return len(targets)


WORKFLOWS = [on_signal, all_of_two, race_of_two, sender]


def _run(tmp_path: Path, parent: Any, parent_id: str, targets: list[str]) -> Any:
    with aion.Engine(str(tmp_path / f"{parent_id}.duckdb"), workflows=WORKFLOWS) as engine:
        engine.start(parent, workflow_id=parent_id)
        engine.run_until_idle()
        engine.start(sender, targets, workflow_id=f"{parent_id}-sender")
        result = engine.run_until_complete(parent_id)
        history = engine.history(parent_id)
        replayed = aion.replay(parent, history)
    return result, history, replayed


def _no_cancel_after_outcome(history: list[Event]) -> None:
    settled: set[int] = set()
    for event in history:
        if isinstance(event, ChildCompleted | ChildFailed):
            settled.add(event.ordinal)
        if isinstance(event, CommandCancelled):
            assert event.ordinal not in settled, f"seq {event.seq} cancels a settled member"


def test_fail_fast_raises_the_lowest_ordinal_among_failures_recorded_together(
    tmp_path: Path,
) -> None:
    result, history, replayed = _run(tmp_path, all_of_two, "all", ["all/b", "all/a"])
    outcomes = [e for e in history if isinstance(e, ChildFailed)]
    assert [e.ordinal for e in outcomes] == [2, 3]  # recorded together, lowest first
    assert outcomes[0].seq + 1 == outcomes[1].seq
    assert result == "all/a"
    _no_cancel_after_outcome(history)
    assert not any(isinstance(e, CommandCancelled) for e in history)
    assert replayed.ok and replayed.result == "all/a"


def test_a_race_goes_to_the_lowest_ordinal_and_never_cancels_a_settled_loser(
    tmp_path: Path,
) -> None:
    result, history, replayed = _run(tmp_path, race_of_two, "race", ["race/b", "race/a"])
    outcomes = [e for e in history if isinstance(e, ChildCompleted)]
    assert [e.ordinal for e in outcomes] == [2, 3]
    assert result == [0, "race/a"]
    _no_cancel_after_outcome(history)
    assert replayed.ok and replayed.result == [0, "race/a"]


def test_a_history_recorded_under_semantics_1_still_replays_as_recorded(
    tmp_path: Path,
) -> None:
    """Old files keep their rule: a cancellation recorded after an outcome still matches."""
    _, history, _ = _run(tmp_path, all_of_two, "old", ["all/b", "all/a"])
    started = history[0]
    assert isinstance(started, WorkflowStarted) and started.semantics_version == 2
    # The same run as semantics 1 recorded it: outcomes in queue order, then the
    # cancellation of the member whose failure was already in history.
    v1: list[Event] = []
    for event in history:
        if isinstance(event, WorkflowStarted):
            event = type(event)(**{**_fields(event), "semantics_version": 1})
        v1.append(event)
    failed = [i for i, e in enumerate(v1) if isinstance(e, ChildFailed)]
    a, b = v1[failed[0]], v1[failed[1]]
    v1[failed[0]] = type(b)(**{**_fields(b), "seq": a.seq})
    v1[failed[1]] = type(a)(**{**_fields(a), "seq": b.seq})
    end = v1[-1]
    cancel = CommandCancelled(
        seq=end.seq, run_id=end.run_id, recorded_at=end.recorded_at, ordinal=2, reason="x"
    )
    v1 = [*v1[:-1], cancel, type(end)(**{**_fields(end), "seq": end.seq + 1})]
    # Under semantics 1 the code raises the first recorded failure: b's.
    v1[-1] = type(end)(**{**_fields(end), "seq": end.seq + 1, "result": "all/b"})
    replayed = aion.replay(all_of_two, v1)
    assert replayed.ok, replayed.divergence
    assert replayed.result == "all/b"


def _fields(event: Event) -> dict[str, Any]:
    import attrs

    return {f.name: getattr(event, f.name) for f in attrs.fields(type(event))}
