"""Replay's inline round trip decides exactly what the general feed/apply path decides.

The replay loop takes a recorded call and its result inline (`_driving`)
only while the watchdog guard is held; with the step budget off it feeds
every event through `Interpreter.feed` and `Interpreter.apply`. So the same
history replayed both ways, against the recording code and against a
mutated variant of it (a statement swapped, inserted or deleted, an
activity renamed, an argument changed), must give the same result: status,
value, error, divergence (seq and wording), where it stopped, and the new
decisions past the recorded ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aion
from aion._definitions import Registry
from aion._events import Event
from aion._interpreter import Interpreter
from tests.strategies import (
    SIGNALS,
    boom,
    echo,
    leaf_paths,
    program,
    program_child,
    programs,
    statements,
    variant,
)
from tests.test_property_mutations import get_at, mutate_leaf, set_at

pytestmark = pytest.mark.property


@dataclasses.dataclass(frozen=True)
class Pair:
    a: int
    b: int


def _both_ways(stmts: list[Any], history: list[Event]) -> tuple[Any, Any]:
    code = variant(stmts)
    registry = Registry([code, program_child], [echo, boom])
    inline = aion.replay(code, history, registry=registry, workflow_id="wf")
    saved = Interpreter.step_budget
    Interpreter.step_budget = 0  # no held guard: every event through feed / apply
    try:
        general = aion.replay(code, history, registry=registry, workflow_id="wf")
    finally:
        Interpreter.step_budget = saved
    return _summary(inline), _summary(general)


def _summary(result: aion.ReplayResult) -> tuple[Any, ...]:
    interp = result.interpreter
    assert interp is not None
    return (
        result.ok,
        result.status,
        repr(result.result),
        type(result.error).__name__ if result.error is not None else None,
        str(result.error) if result.error is not None else None,
        str(result.divergence) if result.divergence is not None else None,
        result.divergence.seq if result.divergence is not None else None,
        result.stopped_at,
        [(d.kind, d.fields) for d in interp.new_decisions],
        interp.waiting_for(),
    )


def _recorded(stmts: list[Any]) -> st.SearchStrategy[list[Event]]:
    return aion.testing.histories(
        program, stmts, workflows=[program_child], activities=[echo, boom], signals=SIGNALS
    )


@given(stmts=programs(), data=st.data())
def test_the_recording_code_replays_the_same_both_ways(
    stmts: list[Any], data: st.DataObject
) -> None:
    history = data.draw(_recorded(stmts))
    inline, general = _both_ways(stmts, history)
    assert inline == general


@given(stmts=programs(), data=st.data())
def test_changed_code_is_judged_the_same_both_ways(stmts: list[Any], data: st.DataObject) -> None:
    history = data.draw(_recorded(stmts))
    how = data.draw(st.sampled_from(["swap", "insert", "delete", "leaf"]), label="mutation")
    if how == "insert":
        j = data.draw(st.integers(0, len(stmts)), label="at")
        mutated = [*stmts[:j], data.draw(statements(), label="statement"), *stmts[j:]]
    elif how == "delete":
        j = data.draw(st.integers(0, len(stmts) - 1), label="at")
        mutated = stmts[:j] + stmts[j + 1 :]
    elif how == "swap" and len(stmts) >= 2:
        j = data.draw(st.integers(0, len(stmts) - 2), label="at")
        mutated = [*stmts[:j], stmts[j + 1], stmts[j], *stmts[j + 2 :]]
    elif leaf_paths(stmts):
        path, _ = data.draw(st.sampled_from(leaf_paths(stmts)), label="leaf")
        change = data.draw(st.sampled_from(["rename", "argument"]), label="change")
        mutated = set_at(stmts, path, mutate_leaf(get_at(stmts, path), change))
    else:
        mutated = stmts
    inline, general = _both_ways(mutated, history)
    assert inline == general


def test_a_result_that_no_longer_decodes_stalls_the_same_both_ways() -> None:
    @aion.activity(name="eq.count")
    def count(i: int) -> int:
        return i

    @aion.workflow(name="eq.flow")
    def flow(n: int) -> Any:
        total = 0
        for i in range(n):
            total += yield aion.call(count, i)
        return total

    history = list(
        aion.testing.WorkflowEnvironment(workflows=[flow], activities=[count]).run(flow, 3).history
    )

    @aion.activity(name="eq.count")
    def count_text(i: int) -> Pair:  # the recorded ints no longer decode into a Pair
        return Pair(i, i)

    @aion.workflow(name="eq.flow")
    def flow_text(n: int) -> Any:
        out = []
        for i in range(n):
            out.append((yield aion.call(count_text, i)))
        return out

    registry = Registry([flow_text], [count_text])
    inline = aion.replay(flow_text, history, registry=registry)
    saved = Interpreter.step_budget
    Interpreter.step_budget = 0
    try:
        general = aion.replay(flow_text, history, registry=registry)
    finally:
        Interpreter.step_budget = saved
    assert inline.status == "stalled"
    assert "activity 'eq.count' (seq 3)" in str(inline.error)  # names where
    assert _summary(inline) == _summary(general)
