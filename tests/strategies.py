"""Generated workflow programs: hypothesis strategies and the workflow that runs them.

A *program* is a JSON list of statements; `program` (a real ``@aion.workflow``)
walks it and yields the commands it describes, so every generated tree is a
real generator workflow run by the real engine and interpreter. Statements:

* ``["call", k]``           call ``echo(k)`` (returns ``10 * k``)
* ``["fail", k]``           call ``boom(k)``, which always raises (2 attempts)
* ``["sleep", s]``          a durable timer of ``s`` seconds
* ``["signal", name]``      wait for a signal
* ``["all", [leaf...]]``    ``collect_all`` of leaves
* ``["race", [leaf...]]``   ``collect_race`` of leaves
* ``["map", [k...], c]``    ``collect_map(echo, ...)`` with concurrency ``c``
* ``["timeout", s, leaf]``  ``with_timeout(s, leaf)``
* ``["child", [stmt...]]``  ``await_child(program_child, stmts)``
* ``["try", stmt]``         run ``stmt``; catch its failure (recorded as a value)

A leaf is a call, fail, sleep, signal or a timeout around a leaf. No tests here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

import aion

RETRY_TWICE = aion.RetryPolicy(max_attempts=2, initial_interval=timedelta(seconds=5))
SIGNALS = (("a", 1), ("b", 2), ("a", 3))


@aion.activity
def echo(k: int) -> int:
    return 10 * k


@aion.activity(retry=RETRY_TWICE)
def boom(k: int) -> int:
    msg = f"boom {k}"
    raise ValueError(msg)


def command(stmt: list[Any]) -> aion.Command[Any]:
    """The command a leaf or composite statement describes."""
    kind = stmt[0]
    if kind == "call":
        return aion.call(echo, stmt[1])
    if kind == "fail":
        return aion.call(boom, stmt[1])
    if kind == "sleep":
        return aion.sleep(stmt[1])
    if kind == "signal":
        return aion.receive_signal(stmt[1])
    if kind == "all":
        return aion.collect_all([command(m) for m in stmt[1]])
    if kind == "race":
        return aion.collect_race([command(m) for m in stmt[1]])
    if kind == "map":
        return aion.collect_map(echo, [(k,) for k in stmt[1]], concurrency=stmt[2])
    if kind == "timeout":
        return aion.with_timeout(timedelta(seconds=stmt[1]), command(stmt[2]))
    msg = f"not a command statement: {stmt!r}"
    raise ValueError(msg)


def run_statement(stmt: list[Any]) -> Generator[Any, Any, Any]:
    """Yield the commands of one statement; return its value."""
    kind = stmt[0]
    if kind == "try":
        try:
            return (yield from run_statement(stmt[1]))
        except (aion.ActivityError, aion.Timeout, aion.ChildWorkflowError) as exc:
            return f"caught {type(exc).__name__}"
    if kind == "child":
        return (yield aion.await_child(program_child, stmt[1]))
    return (yield command(stmt))


def run_program(stmts: list[list[Any]]) -> Generator[Any, Any, list[Any]]:
    results = []
    for stmt in stmts:
        results.append((yield from run_statement(stmt)))
    return results


@aion.workflow(name="program")
def program(stmts: list[Any]) -> Generator[Any, Any, list[Any]]:
    return (yield from run_program(stmts))


@aion.workflow(name="program_child")
def program_child(stmts: list[Any]) -> Generator[Any, Any, list[Any]]:
    return (yield from run_program(stmts))


def variant(stmts: list[list[Any]]) -> Callable[..., Any]:
    """Other code registered under the name ``program``: runs ``stmts``, ignoring its input."""

    @aion.workflow(name="program")
    def program_variant(_recorded_input: list[Any]) -> Generator[Any, Any, list[Any]]:
        return (yield from run_program(stmts))

    return program_variant


# --- strategies ----------------------------------------------------------------------

small = st.integers(1, 4)
seconds = st.sampled_from([5, 30, 60])


def leaves(depth: int = 1) -> st.SearchStrategy[list[Any]]:
    base = st.one_of(
        st.tuples(st.just("call"), small).map(list),
        st.tuples(st.just("fail"), small).map(list),
        st.tuples(st.just("sleep"), seconds).map(list),
        st.tuples(st.just("signal"), st.sampled_from(["a", "b"])).map(list),
    )
    if depth <= 0:
        return base
    return st.one_of(base, st.tuples(st.just("timeout"), seconds, leaves(depth - 1)).map(list))


def statements(child: bool = True) -> st.SearchStrategy[list[Any]]:
    members = st.lists(leaves(), min_size=1, max_size=3)
    options = [
        leaves(),
        st.tuples(st.just("all"), members).map(list),
        st.tuples(st.just("race"), members).map(list),
        st.tuples(st.just("map"), st.lists(small, min_size=1, max_size=3), st.integers(1, 2)).map(
            list
        ),
    ]
    if child:
        options.append(
            st.tuples(
                st.just("child"), st.lists(statements(child=False), min_size=1, max_size=2)
            ).map(list)
        )
    plain = st.one_of(*options)
    return st.one_of(plain, st.tuples(st.just("try"), plain).map(list))


def programs(max_size: int = 4) -> st.SearchStrategy[list[list[Any]]]:
    """Programs of 1..max_size top-level statements."""
    return st.lists(statements(), min_size=1, max_size=max_size)


# --- static facts the mutation oracle uses --------------------------------------------


def ordinals(stmt: list[Any]) -> int:
    """How many ordinals a statement takes (static: it never depends on outcomes)."""
    kind = stmt[0]
    if kind == "try":
        return ordinals(stmt[1])
    if kind in ("all", "race"):
        return 1 + sum(ordinals(m) for m in stmt[1])
    if kind == "map":
        return 1 + len(stmt[1])
    if kind == "timeout":
        return 1 + ordinals(stmt[2])
    return 1


def head(stmt: list[Any]) -> tuple[Any, ...]:
    """What a statement's first decision records (kind plus what its digest covers)."""
    kind = stmt[0]
    if kind == "try":
        return head(stmt[1])
    if kind in ("all", "race"):
        return ("group", kind, len(stmt[1]))
    if kind == "map":
        return ("group", "map", len(stmt[1]), stmt[2])
    if kind == "timeout":
        return ("timeout", stmt[1])
    if kind == "child":
        return ("child", repr(stmt[1]))
    return (kind, stmt[1])


def leaf_paths(stmts: list[list[Any]]) -> list[tuple[tuple[int, ...], int]]:
    """Every call/fail/sleep/signal leaf (outside children) as (path, static ordinal)."""
    out: list[tuple[tuple[int, ...], int]] = []
    counter = [1]

    def walk(stmt: list[Any], path: tuple[int, ...]) -> None:
        kind = stmt[0]
        if kind == "try":
            walk(stmt[1], (*path, 1))
            return
        ordinal = counter[0]
        counter[0] += 1
        if kind in ("all", "race"):
            for i, m in enumerate(stmt[1]):
                walk(m, (*path, 1, i))
        elif kind == "map":
            counter[0] += len(stmt[1])
        elif kind == "timeout":
            walk(stmt[2], (*path, 2))
        elif kind in ("call", "fail", "sleep", "signal"):
            out.append((path, ordinal))

    for i, stmt in enumerate(stmts):
        walk(stmt, (i,))
    return out
