"""`describe().pending` is exact for evicted workflows too (issue 11, defect 5).

One derivation, from history, serves a resident workflow, an evicted one
(`max_resident`) and the CLI's offline describe; inside `collect_*` groups
and timeouts it lists exactly what the live generator waits on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aion_cli.backend import LocalBackend

import aion

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@aion.workflow
def grouped() -> Any:
    values = yield aion.collect_all(
        [
            aion.receive_signal("x"),
            aion.with_timeout(timedelta(hours=1), aion.receive_signal("x")),
            aion.sleep(timedelta(hours=2)),
            aion.collect_race([aion.receive_signal("y"), aion.sleep(timedelta(minutes=5))]),
        ]
    )
    return values


@aion.workflow
def sleeper() -> Any:
    yield aion.sleep(timedelta(days=1))
    return "rested"


def _drive(engine: aion.Engine, clock: aion.ManualClock) -> None:
    engine.start(grouped, workflow_id="g")
    engine.run_until_idle()
    engine.signal("g", "x", 1)  # consumed by the first receive (ordinal 2)
    clock.advance(timedelta(minutes=5))  # the race's timer wins: its receive is cancelled
    engine.run_until_idle()
    engine.signal("g", "y", "late")  # buffered: the receive that wanted it was cancelled
    engine.run_until_idle()


def _lines(desc: aion.WorkflowDescription) -> list[str]:
    return [line.rsplit(" at ", 1)[0] for line in desc.pending]


EXPECTED = ["timeout #3 with_timeout", "signal 'x'", "timer #5 sleep 7200s"]


def test_pending_is_the_same_exact_list_resident_evicted_and_offline(tmp_path: Path) -> None:
    clock = aion.ManualClock(EPOCH)
    with aion.Engine(
        str(tmp_path / "resident.duckdb"), workflows=[grouped, sleeper], clock=clock
    ) as engine:
        _drive(engine, clock)
        resident = engine.describe("g")
        live = engine._runtime.state.instances["g"].interp
        assert live is not None
        oracle = sorted(line.rsplit(" at ", 1)[0] for line in live.waiting_for())
    assert sorted(_lines(resident)) == sorted(EXPECTED) == oracle  # what the generator waits on

    clock = aion.ManualClock(EPOCH)
    path = tmp_path / "evicted.duckdb"
    with aion.Engine(
        str(path), workflows=[grouped, sleeper], clock=clock, max_resident=1
    ) as engine:
        _drive(engine, clock)
        engine.start(sleeper, workflow_id="other")
        engine.run_until_idle()
        assert (
            engine._runtime.state.instances["g"].interp is None
        )  # evicted: no generator in memory
        evicted = engine.describe("g")
    assert evicted.pending == resident.pending
    offline = LocalBackend(aion.DuckDBStore(path, read_only=True))
    try:
        assert offline.describe("g").pending == resident.pending
    finally:
        offline.close()


def test_pending_includes_what_the_code_decided_since_the_last_commit(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "q.duckdb"), workflows=[sleeper]) as engine:
        engine.start(sleeper, workflow_id="s")  # its first command is decided, not committed
        assert _lines(engine.describe("s")) == ["timer #1 sleep 86400s"]
