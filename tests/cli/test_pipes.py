"""Pipe-friendly output: unwrapped tables off a terminal, NO_COLOR, --format table|json|csv."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from aion_cli.main import cli
from click.testing import CliRunner

import aion
from tests.cli import sample_workflows as s
from tests.cli.conftest import EPOCH, Invoke, run_aion

#: An SGR sequence that sets a foreground colour (30-37, 38;..., 90-97).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])[;m]")
LONG = "order-1-" + "x" * 150


@pytest.fixture
def long_ids(tmp_path: Path) -> Path:
    db = tmp_path / "long.duckdb"
    engine = aion.Engine(
        str(db), workflows=[s.quick], activities=[s.double], clock=aion.ManualClock(EPOCH)
    )
    try:
        for n, workflow_id in enumerate([LONG, "other-" + "y" * 150]):
            engine.start(s.quick, n, workflow_id=workflow_id)
            engine.run_until_complete(workflow_id)
    finally:
        engine.close()
    return db


def test_a_piped_list_keeps_each_row_on_one_line(long_ids: Path) -> None:
    result = run_aion("--db", str(long_ids), "list")  # stdout is a pipe, COLUMNS=100
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "order-1" in line]
    assert len(rows) == 1
    assert LONG in rows[0] and "completed" in rows[0] and "quick" in rows[0]


def test_in_process_off_a_terminal_no_row_wraps(invoke: Invoke, long_ids: Path) -> None:
    out = invoke("list", db=long_ids).stdout
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["other-" + "y" * 150, LONG]


@pytest.mark.parametrize("command", [["list"], ["describe", "order-1"], ["inspect", "order-1"]])
def test_no_color_is_honoured_even_when_colour_is_forced(
    fixed_db: Path, command: list[str]
) -> None:
    def run(**env: str | None) -> str:
        runner = CliRunner(env={"AION_DB": str(fixed_db), "TTY_COMPATIBLE": None, **env})
        return runner.invoke(cli, command, catch_exceptions=False).stdout

    # NO_COLOR forbids colour, not emphasis: bold headers may stay, colour codes may not.
    assert COLOUR.search(run(FORCE_COLOR="1", NO_COLOR=None))  # the check can fail
    assert not COLOUR.search(run(FORCE_COLOR="1", NO_COLOR="1"))


def test_list_as_csv(invoke: Invoke) -> None:
    result = invoke("list", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == [
        "workflow_id",
        "workflow_type",
        "status",
        "started_at",
        "closed_at",
        "events",
        "runs",
        "run_id",
        "parent_id",
    ]
    assert [r[:6] for r in rows[:0:-1]] == [  # newest first: read back to front
        [
            "order-1",
            "order",
            "completed",
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:30+00:00",
            "6",
        ],
        [
            "retry-1",
            "retrying",
            "completed",
            "2026-01-01T00:00:30+00:00",
            "2026-01-01T00:00:32+00:00",
            "5",
        ],
        ["appr-1", "approval", "running", "2026-01-01T00:00:32+00:00", "", "4"],
    ]


def test_inspect_and_describe_as_csv(invoke: Invoke) -> None:
    events = list(csv.reader(io.StringIO(invoke("inspect", "order-1", "--format", "csv").stdout)))
    assert events[0] == ["seq", "run_id", "recorded_at", "kind", "ordinal", "name", "payload"]
    assert [(r[0], r[3], r[5]) for r in events[1:3]] == [
        ("1", "WorkflowStarted", "order"),
        ("2", "ActivityScheduled", "charge"),
    ]
    assert json.loads(events[1][6])["args"] == ["o-1", 1299]
    described = dict(
        csv.reader(io.StringIO(invoke("describe", "order-1", "--format", "csv").stdout))
    )
    assert described["status"] == "completed"
    assert json.loads(described["result"]) == {"receipt": "rcpt-o-1-1299", "total": 2598}


def test_format_json_is_json_and_conflicts_are_refused(invoke: Invoke) -> None:
    assert invoke("list", "--format", "json").stdout == invoke("list", "--json").stdout
    clash = invoke("list", "--json", "--format", "csv")
    assert clash.exit_code == 2
    assert "--json and --format csv ask for two formats." in clash.stderr
    bad = invoke("list", "--format", "xml")
    assert bad.exit_code == 2


def test_subprocess_csv(fixed_db: Path) -> None:
    result = run_aion("inspect", "order-1", "--format", "csv", "--db", str(fixed_db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "seq,run_id,recorded_at,kind,ordinal,name,payload"
    assert len(result.stdout.splitlines()) == 7


def test_replay_as_csv_one_row_per_history(invoke: Invoke) -> None:
    from tests.cli.conftest import CHANGED

    result = invoke("replay", "--all", "-m", CHANGED, "--format", "csv")
    assert result.exit_code == 1  # the divergence still decides the exit code
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "workflow_id",
        "ok",
        "status",
        "stopped_at",
        "events",
        "divergence_seq",
        "error",
        "fixture_check",
    ]
    by_id = {r["workflow_id"]: r for r in rows}
    assert len(by_id) == 3
    assert (by_id["order-1"]["ok"], by_id["order-1"]["divergence_seq"]) == ("false", "2")
    assert all(
        r["ok"] == "true" and r["divergence_seq"] == "" for k, r in by_id.items() if k != "order-1"
    )
    one = invoke("replay", "order-1", "-m", s.__name__, "--format", "csv")
    assert one.exit_code == 0
    assert one.stdout.splitlines()[1].startswith("order-1,true,completed,")


def test_query_as_csv() -> None:
    from aion_cli.query_cmd import csv_table

    assert csv_table("awaiting approval") == (["value"], [["awaiting approval"]])
    assert csv_table([{"sku": "a", "n": 2}, {"sku": "b", "extra": [1]}]) == (
        ["sku", "n", "extra"],
        [["a", 2, None], ["b", None, "[1]"]],
    )
    assert csv_table({"a": True, "b": 1.5}) == (["key", "value"], [["a", "true"], ["b", 1.5]])


def test_subprocess_query_and_replay_csv(fixed_db: Path) -> None:
    queried = run_aion("query", "appr-1", "stage", "--format", "csv", "--db", str(fixed_db))
    assert (queried.returncode, queried.stdout) == (0, "value\nawaiting approval\n")
    replayed = run_aion("--format", "csv", "replay", "--all", "--db", str(fixed_db))
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines()[0].startswith("workflow_id,ok,status,")
