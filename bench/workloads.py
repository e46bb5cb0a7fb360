"""Workflows, activities and history synthesis shared by every benchmark.

Histories for the replay benchmarks are made by driving aion's own
`Interpreter` with fabricated outcomes (an activity completes, a timer fires,
a signal arrives), so they are exactly what the engine would have recorded,
without paying for threads and commits while building a 100k-command history.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aion
from aion._codec import event_from_row, event_payload
from aion._definitions import Registry
from aion._events import (
    ActivityCompleted,
    ActivityScheduled,
    Event,
    SignalAwaited,
    SignalReceived,
    TimerFired,
    TimerStarted,
    WorkflowStarted,
    kind_of,
)
from aion._interpreter import Interpreter
from aion.store import DuckDBStore

SCALE = float(os.environ.get("AION_BENCH_SCALE", "1"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def scaled(n: int, floor: int = 10) -> int:
    """``n`` times the scale knob ``AION_BENCH_SCALE`` (a smoke run uses e.g. 0.05)."""
    return max(floor, int(n * SCALE))


@aion.activity
def step(i: int) -> dict[str, Any]:
    """A no-op activity with a small, realistic result."""
    return {"i": i, "ok": True}


@aion.workflow
def mixed(n: int):  # type: ignore[no-untyped-def]
    """``n`` commands: 7 of every 10 activities, 2 timers, 1 signal."""
    total = 0
    for i in range(n):
        r = i % 10
        if r < 7:
            out = yield aion.call(step, i)
            total += out["i"]
        elif r < 9:
            yield aion.sleep(1.0)
        else:
            yield aion.receive_signal("tick")
    return total


@aion.workflow
def sequential(n: int):  # type: ignore[no-untyped-def]
    """``n`` sequential activities (the workload compared with the peers)."""
    total = 0
    for i in range(n):
        out = yield aion.call(step, i)
        total += out["i"]
    return total


@aion.workflow
def sleeper(seconds: float):  # type: ignore[no-untyped-def]
    """Sleeps (the recovery and memory benchmarks keep thousands of these waiting)."""
    yield aion.call(step, 0)
    yield aion.sleep(seconds)
    return 1


@aion.workflow
def waiter(n: int, seconds: float):  # type: ignore[no-untyped-def]
    """``n`` activities, then a long sleep (the recovery benchmark's open workflows)."""
    for i in range(n):
        yield aion.call(step, i)
    yield aion.sleep(seconds)
    return n


@aion.activity
def step_int(i: int) -> int:
    """A no-op activity with an int result."""
    return i


@dataclasses.dataclass(frozen=True)
class StepResult:
    """The dataclass result of `step_dc` (decoded from JSON by aion on replay)."""

    i: int
    ok: bool


@aion.activity
def step_dc(i: int) -> StepResult:
    """A no-op activity with a dataclass result."""
    return StepResult(i=i, ok=True)


@aion.workflow
def sequential_int(n: int):  # type: ignore[no-untyped-def]
    """``n`` sequential activities with int results."""
    total = 0
    for i in range(n):
        total += yield aion.call(step_int, i)
    return total


@aion.workflow
def sequential_dc(n: int):  # type: ignore[no-untyped-def]
    """``n`` sequential activities with dataclass results."""
    total = 0
    for i in range(n):
        out = yield aion.call(step_dc, i)
        total += out.i
    return total


#: The sequential workloads compared with durabletask, by the kind of result.
SEQUENTIAL = {"int": sequential_int, "dict": sequential, "dataclass": sequential_dc}

REGISTRY = Registry(
    [mixed, sequential, sequential_int, sequential_dc, sleeper, waiter], [step, step_int, step_dc]
)


def synthesize(
    workflow: Any, *args: Any, workflow_id: str = "wf", t0: datetime = T0, until_timer: bool = False
) -> list[Event]:
    """Record a complete history of ``workflow(*args)`` by answering every command at once."""
    definition = REGISTRY.workflow(aion._definitions.workflow_definition(workflow).name)
    clock = [t0]

    def tick() -> datetime:
        clock[0] += timedelta(milliseconds=1)
        return clock[0]

    run_id = str(uuid.UUID(int=hash(workflow_id) & ((1 << 128) - 1)))
    started = WorkflowStarted(
        seq=1, run_id=run_id, recorded_at=tick(), name=definition.name, args=list(args)
    )
    history: list[Event] = [started]
    interp = Interpreter(
        workflow_id=workflow_id, started=started, definition=definition, registry=REGISTRY
    )
    interp.start()
    while True:
        decisions = interp.take_decisions()
        if not decisions:
            break
        outcomes: list[Event] = []
        for decision in decisions:
            event = decision.event(len(history) + 1, tick(), run_id)
            history.append(event)
            if isinstance(event, ActivityScheduled):
                outcomes.append(
                    ActivityCompleted(
                        seq=0,
                        run_id=run_id,
                        recorded_at=clock[0],
                        ordinal=event.ordinal,
                        attempt=1,
                        result=(
                            event.args[0]
                            if event.name == step_int.__aion_activity__.name
                            else {"i": event.args[0], "ok": True}
                        ),
                    )
                )
            elif isinstance(event, TimerStarted) and not until_timer:
                outcomes.append(
                    TimerFired(seq=0, run_id=run_id, recorded_at=clock[0], ordinal=event.ordinal)
                )
            elif isinstance(event, SignalAwaited):
                outcomes.append(
                    SignalReceived(
                        seq=0,
                        run_id=run_id,
                        recorded_at=clock[0],
                        name=event.name,
                        payload={"n": 1},
                    )
                )
        for outcome in outcomes:
            fixed = type(outcome)(
                **{**_fields(outcome), "seq": len(history) + 1, "recorded_at": tick()}
            )
            history.append(fixed)
            interp.apply(fixed)
    assert interp.status == ("running" if until_timer else "completed"), interp.status
    return history


def synthesize_waiting(workflow: Any, *args: Any) -> list[Event]:
    """A history that ends with the workflow waiting on a timer (a non-terminal workflow)."""
    return synthesize(workflow, *args, until_timer=True, t0=datetime.now(UTC))


def _fields(event: Event) -> dict[str, Any]:
    import attrs

    return {a.name: getattr(event, a.name) for a in attrs.fields(type(event))}


def rows(workflow_id: str, history: list[Event]) -> Iterator[tuple[Any, ...]]:
    """Store rows (the DuckDB layout) of a history."""
    for e in history:
        yield (
            workflow_id,
            e.seq,
            e.run_id,
            kind_of(e),
            getattr(e, "ordinal", None),
            getattr(e, "name", None),
            event_payload(e),
            e.recorded_at,
            getattr(e, "source", None),
            getattr(e, "digest", None),
        )


def write_store(path: str, histories: dict[str, list[Event]], chunk: int = 200_000) -> None:
    """Create a DuckDB store holding ``histories`` (bulk-loaded, like an import)."""
    if os.path.exists(path):
        os.remove(path)
    store = DuckDBStore(path)
    store.close()
    import duckdb

    con = duckdb.connect(path)
    con.execute("SET TimeZone = 'UTC'")
    buf: list[tuple[Any, ...]] = []
    for workflow_id, history in histories.items():
        buf.extend(rows(workflow_id, history))
        if len(buf) >= chunk:
            _flush(con, buf)
            buf = []
    if buf:
        _flush(con, buf)
    con.execute("CHECKPOINT")
    con.close()


def _flush(con: Any, buf: list[tuple[Any, ...]]) -> None:
    con.execute("BEGIN")
    app = con.appender("events")
    app.append_rows(buf)
    app.flush()
    con.execute("COMMIT")


def clone(history: list[Event], workflow_id: str) -> list[Event]:
    """The same history under another run id (for bulk stores of many workflows)."""
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, workflow_id))
    return [type(e)(**{**_fields(e), "run_id": run_id}) for e in history]


def roundtrip_ok(history: list[Event]) -> bool:
    """Sanity check: the rows decode back to equal events."""
    return all(
        event_from_row(*r[3:4], r[1], r[2], r[7], r[4], r[5], r[6], r[8], r[9]) == e
        for r, e in zip(rows("x", history), history, strict=True)
    )
