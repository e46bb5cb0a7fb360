"""Issue 16's fast paths (match by value, Call, held guard, cached policies) change nothing.

The fast path (issue 16) compares a replayed call's arguments with the
recorded ones instead of hashing them, skips the source line, and holds the
watchdog's guard for the whole replay. Each of those must change nothing a
user can see: these tests pin what the digest decided, where a pending call
is said to wait, and that a runaway loop met during replay still stalls.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import aion
from aion._commands import Call
from aion._definitions import Registry
from aion._events import ActivityCompleted, ActivityScheduled, Event, WorkflowStarted
from aion._interpreter._core import Interpreter
from aion._interpreter._matching import same_json


@pytest.mark.parametrize(
    ("recorded", "current", "same"),
    [
        (1, 1, True),
        (1, 1.0, False),
        (1, True, False),
        (0, False, False),
        (1.5, 1.5, True),
        (0.0, -0.0, False),
        ("a", "a", True),
        (None, None, True),
        (None, 0, False),
        ([1, [2, "x"]], [1, [2, "x"]], True),
        ([1, [2, "x"]], [1, [2.0, "x"]], False),
        ([1, 2], [1, 2, 3], False),
        ({"a": 1, "b": [True]}, {"b": [True], "a": 1}, True),  # key order: digests sort keys
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": 1}, {"a": True}, False),
        ([1], (1,), False),  # a tuple is converted (slow path), never matched as a list
    ],
)
def test_same_json_is_as_strict_as_json_text(recorded: Any, current: Any, same: bool) -> None:
    assert same_json(recorded, current) is same


@aion.activity(name="match.f")
def f(x: Any, y: Any = None) -> Any:
    return x


EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _flow_calling(arg: Any) -> Any:
    @aion.workflow(name="match.flow")
    def flow(_: str) -> Any:
        first = yield aion.call(f, arg)
        second = yield aion.call(f, first, y=2)
        return second

    return flow


def _record(flow: Any, answered: int) -> list[Event]:
    """Run ``flow`` live against no store, answering its first ``answered`` calls (echoing x)."""
    definition = Registry([flow], [f]).workflow("match.flow")
    started = WorkflowStarted(seq=1, run_id="r", recorded_at=EPOCH, name="match.flow", args=["x"])
    history: list[Event] = [started]
    interp = Interpreter(workflow_id="w", started=started, definition=definition)
    interp.start()
    while decisions := interp.take_decisions():
        for decision in decisions:
            event = decision.event(len(history) + 1, EPOCH, "r")
            history.append(event)
            if isinstance(event, ActivityScheduled) and answered:
                answered -= 1
                outcome = ActivityCompleted(
                    seq=len(history) + 1,
                    run_id="r",
                    recorded_at=EPOCH,
                    ordinal=event.ordinal,
                    attempt=1,
                    result=event.args[0],
                )
                history.append(outcome)
                interp.apply(outcome)
    return history


def _history(arg: Any) -> list[Event]:
    """A run that called ``match.f(arg)`` and is waiting for a second call's outcome."""
    return _record(_flow_calling(arg), answered=1)


@pytest.mark.parametrize(
    ("recorded", "now", "diverges"),
    [
        (1, 1, False),
        (1, True, True),
        (1, 1.0, True),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, False),
        ([1, "x"], [1, "x"], False),
        ([1, "x"], [1, "y"], True),
    ],
)
def test_a_changed_argument_diverges_exactly_when_its_digest_would(
    recorded: Any, now: Any, diverges: bool
) -> None:
    history = _history(recorded)
    result = aion.replay(_flow_calling(now), history)
    assert (result.divergence is not None) is diverges, result.divergence
    if diverges:
        assert result.divergence is not None and result.divergence.seq == 2
    else:
        assert result.ok and result.status == "running"


def test_a_pending_replayed_call_still_says_where_it_waits() -> None:
    flow = _flow_calling(1)
    history = _history(1)  # ends with the second call scheduled, no outcome yet
    assert isinstance(history[-1], ActivityScheduled)
    started = history[0]
    assert isinstance(started, WorkflowStarted)
    interp = Interpreter(
        workflow_id="w",
        started=started,
        definition=Registry([flow], [f]).workflow("match.flow"),
        recorded=[e for e in history if e.FAMILY == "decision"],
        history=history,
    )
    interp.replay_from(history[1:])
    assert interp.status == "running" and not interp.take_decisions()
    (waiting,) = interp.waiting_for()
    assert re.fullmatch(r"activity #2 match\.f at tests/test_replay_matching\.py:\d+", waiting)
    assert waiting.endswith(history[-1].source)  # the line the live run recorded


def test_call_stays_immutable_and_compares_like_a_command() -> None:
    call = Call(activity="a", args=(1,), kwargs={"k": 2})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        call.activity = "b"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        call.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Call("a", (1,), {})  # type: ignore[misc]  # keyword-only
    assert call == Call(activity="a", args=(1,), kwargs={"k": 2})
    assert call != Call(activity="a", args=(2,), kwargs={"k": 2})
    assert repr(call) == "Call(activity='a', args=(1,), kwargs={'k': 2}, retry=None, timeout=None)"


def test_a_runaway_loop_met_while_replaying_still_stalls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Interpreter, "step_budget", 0.3)

    @aion.workflow(name="match.flow")
    def spins(_: str) -> Any:
        yield aion.call(f, 1)
        total = 0
        while total >= 0:  # the replayed outcome sends it here, inside the held guard
            total += 1
        return total

    result = aion.replay(spins, _history(1))
    assert not result.ok and result.divergence is None
    assert "ran for more than 0.3s without yielding" in str(result.error)
    again = aion.replay(_flow_calling(1), _history(1))  # the thread's guard is usable again
    assert again.ok


@pytest.mark.parametrize(("now", "diverges"), [(1, False), (True, True), (1.0, True)])
def test_a_call_passed_by_keyword_is_matched_as_strictly(now: Any, diverges: bool) -> None:
    @aion.workflow(name="match.flow")
    def by_keyword(_: str) -> Any:
        first = yield aion.call(f, x=now)  # recorded as f(1), by position
        return (yield aion.call(f, first, y=2))

    result = aion.replay(by_keyword, _history(1))
    assert (result.divergence is not None) is diverges, result.divergence


def test_a_recorded_policy_is_structured_once_and_exactly() -> None:
    from aion._engine._instance import recorded_policy
    from aion._interpreter._support import policy_json

    policy = aion.RetryPolicy(max_attempts=7, non_retryable=["ValueError"])
    shared = policy_json(policy)
    assert recorded_policy(shared) == policy
    assert recorded_policy(shared) is recorded_policy(shared)  # by identity (events made live)
    read_back = json.loads(json.dumps(shared))  # a fresh dict, as a store read gives
    assert recorded_policy(read_back) is recorded_policy(shared)  # by text
    other = {**read_back, "max_attempts": 2}
    assert recorded_policy(other).max_attempts == 2
