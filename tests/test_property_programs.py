"""Generated programs: replay (a) and crash-and-recover (b) hold for every schedule.

Each generated program is run by the real engine under a generated schedule
(activity completion order, injected failures and retries, signal arrival
relative to timers); `aion.testing.check_workflow` then replays every history
and crashes the run after every commit (memory) or at drawn commits (DuckDB
files, closed and reopened by a new engine), asserting the same outcome.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aion.testing import Schedule, Step, check_workflow, schedules
from tests.strategies import SIGNALS, boom, echo, program, program_child, programs

pytestmark = pytest.mark.property

KIT: dict[str, Any] = {
    "workflows": [program_child],
    "activities": [echo, boom],
    "signals": SIGNALS,
}


@given(stmts=programs(), schedule=schedules())
def test_generated_programs_replay_and_recover_after_every_commit(
    stmts: list[Any], schedule: Schedule
) -> None:
    result = check_workflow(program, stmts, schedule=schedule, **KIT)
    assert result.commits == len(result.crash_points)


# Each example creates DuckDB files and reopens them: a third of the profile's examples.
@settings(max_examples=max(5, settings.default.max_examples // 3))
@given(
    stmts=programs(max_size=3),
    schedule=schedules(),
    crashes=st.lists(st.integers(0, 10_000), min_size=1, max_size=2),
)
def test_generated_programs_recover_from_duckdb_files(
    stmts: list[Any], schedule: Schedule, crashes: list[int]
) -> None:
    check_workflow(program, stmts, schedule=schedule, store="duckdb", crash_points=crashes, **KIT)


def test_a_program_with_every_statement_kind_passes() -> None:
    stmts = [
        ["call", 1],
        ["try", ["fail", 2]],
        ["all", [["call", 3], ["sleep", 5], ["signal", "a"]]],
        ["race", [["sleep", 60], ["call", 4]]],
        ["map", [1, 2, 3], 2],
        ["try", ["timeout", 5, ["signal", "b"]]],
        ["child", [["call", 2], ["sleep", 30]]],
    ]
    schedule = Schedule((Step(1), Step(0, fail=True), Step(2), Step(1), Step(3)))
    result = check_workflow(program, stmts, schedule=schedule, **KIT)
    assert result.outcome[0] == "completed"
    assert "program_child" not in result.histories  # children run under derived ids
    assert len(result.histories) == 2
