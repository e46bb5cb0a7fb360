"""Mutation detection: a generated code change is reported at the first changed seq.

A program is run and its history recorded; then other code (`variant`) is
registered under the same workflow name and the history replayed against
it. An unchanged program never diverges. A swap, insert or delete of a
top-level statement, a renamed activity or signal, or a changed argument is
reported at exactly the seq of the first recorded decision it changes (and
not at all when the recorded run never reached the change). The expected
seq comes from static facts about the program (ordinals are pinned per
command, never timing-dependent), not from the interpreter.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, event, given, note
from hypothesis import strategies as st

import aion
from aion._definitions import Registry
from aion._events import CommandEvent, Event, WorkflowCompleted
from aion.testing import histories
from tests.strategies import (
    SIGNALS,
    boom,
    echo,
    head,
    leaf_paths,
    ordinals,
    program,
    program_child,
    programs,
    statements,
    variant,
)

pytestmark = pytest.mark.property


def replay_variant(stmts: list[Any], history: list[Event]) -> aion.ReplayResult:
    code = variant(stmts)
    registry = Registry([code, program_child], [echo, boom])
    return aion.replay(code, history, registry=registry, workflow_id="wf")


def recorded(stmts: list[Any]) -> st.SearchStrategy[list[Event]]:
    return histories(
        program, stmts, workflows=[program_child], activities=[echo, boom], signals=SIGNALS
    )


def first_decision_of(stmts: list[Any], j: int, history: list[Event]) -> int | None:
    """Seq of statement j's first recorded decision (None: the run never reached it)."""
    base = 1 + sum(ordinals(s) for s in stmts[:j])
    for e in history:
        if isinstance(e, CommandEvent) and e.ordinal >= base:
            return e.seq
    if j == len(stmts) and isinstance(history[-1], WorkflowCompleted):
        return history[-1].seq
    return None


def seq_of_ordinal(history: list[Event], ordinal: int) -> int | None:
    return next(
        (e.seq for e in history if isinstance(e, CommandEvent) and e.ordinal == ordinal), None
    )


def mutate_leaf(leaf: list[Any], how: str) -> list[Any]:
    kind, value = leaf
    if how == "rename":
        swapped = {"call": "fail", "fail": "call", "signal": "signal", "sleep": "sleep"}[kind]
        if kind == "signal":
            return ["signal", "b" if value == "a" else "a"]
        if kind == "sleep":
            return ["sleep", value + 1]
        return [swapped, value]
    return [kind, value + 1] if kind != "signal" else ["signal", value + "x"]


def get_at(stmts: list[Any], path: tuple[int, ...]) -> Any:
    node: Any = stmts
    for i in path:
        node = node[i]
    return node


def set_at(stmts: list[Any], path: tuple[int, ...], value: Any) -> list[Any]:
    out = copy.deepcopy(stmts)
    node: Any = out
    for i in path[:-1]:
        node = node[i]
    node[path[-1]] = value
    return out


@given(stmts=programs(), data=st.data())
def test_unchanged_program_is_never_reported(stmts: list[Any], data: st.DataObject) -> None:
    history = data.draw(recorded(stmts))
    result = replay_variant(stmts, history)
    assert result.divergence is None and result.ok


@given(stmts=programs(), data=st.data())
def test_structural_change_reported_at_first_changed_seq(
    stmts: list[Any], data: st.DataObject
) -> None:
    history = data.draw(recorded(stmts))
    how = data.draw(st.sampled_from(["swap", "insert", "delete"]), label="mutation")
    if how == "insert":
        j = data.draw(st.integers(0, len(stmts)), label="at")
        new = data.draw(statements(), label="statement")
        assume(j == len(stmts) or head(new) != head(stmts[j]))
        mutated = [*stmts[:j], new, *stmts[j:]]
    elif how == "delete":
        j = data.draw(st.integers(0, len(stmts) - 1), label="at")
        assume(j == len(stmts) - 1 or head(stmts[j]) != head(stmts[j + 1]))
        mutated = stmts[:j] + stmts[j + 1 :]
    else:
        assume(len(stmts) >= 2)
        j = data.draw(st.integers(0, len(stmts) - 2), label="at")
        assume(head(stmts[j]) != head(stmts[j + 1]))
        mutated = [*stmts[:j], stmts[j + 1], stmts[j], *stmts[j + 2 :]]
    expected = first_decision_of(stmts, j, history)
    note(f"{how} at {j}: {mutated}; expected seq {expected}")
    event("reported" if expected is not None else "not reached: must not be reported")
    result = replay_variant(mutated, history)
    got = result.divergence.seq if result.divergence is not None else None
    assert got == expected


@given(stmts=programs(), data=st.data())
def test_renamed_or_changed_argument_reported_at_its_seq(
    stmts: list[Any], data: st.DataObject
) -> None:
    leaves = leaf_paths(stmts)
    assume(leaves)
    history = data.draw(recorded(stmts))
    path, ordinal = data.draw(st.sampled_from(leaves), label="leaf")
    how = data.draw(st.sampled_from(["rename", "argument"]), label="mutation")
    mutated = set_at(stmts, path, mutate_leaf(get_at(stmts, path), how))
    expected = seq_of_ordinal(history, ordinal)
    note(f"{how} {get_at(stmts, path)} at {path} (ordinal {ordinal}); expected seq {expected}")
    event("reported" if expected is not None else "not reached: must not be reported")
    result = replay_variant(mutated, history)
    got = result.divergence.seq if result.divergence is not None else None
    assert got == expected


def test_a_swap_is_reported_where_the_first_swapped_call_was_recorded() -> None:
    stmts: list[Any] = [["call", 1], ["sleep", 5], ["call", 2]]
    history = (
        aion.testing.WorkflowEnvironment(workflows=[program_child], activities=[echo, boom])
        .run(program, stmts)
        .history
    )
    scheduled = [e.seq for e in history if isinstance(e, CommandEvent)]
    result = replay_variant([["call", 1], ["call", 2], ["sleep", 5]], list(history))
    assert result.divergence is not None
    assert result.divergence.seq == scheduled[1]
