"""`aion list` filters and limits, `aion sql` (read-only), `aion inspect --follow`."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

import aion
from tests.cli import sample_workflows as s
from tests.cli.conftest import EPOCH, ROOT, SAMPLE, Invoke, aion_command, run_aion, subprocess_env


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """60 quick workflows, one started every minute from EPOCH (q-00 oldest)."""
    db = tmp_path / "many.duckdb"
    clock = aion.ManualClock(EPOCH)
    engine = aion.Engine(str(db), workflows=[s.quick], activities=[s.double], clock=clock)
    try:
        for n in range(60):
            engine.start(s.quick, n, workflow_id=f"q-{n:02d}")
            engine.run_until_complete(f"q-{n:02d}")
            clock.advance(timedelta(minutes=1) - timedelta(milliseconds=200))
    finally:
        engine.close()
    return db


def ids(invoke: Invoke, db: Path, *args: str) -> list[str]:
    result = invoke("list", "--json", *args, db=db)
    assert result.exit_code == 0, result.output
    return [w["workflow_id"] for w in json.loads(result.stdout)]


def test_list_is_newest_first_and_limited_to_50_by_default(invoke: Invoke, many: Path) -> None:
    result = invoke("list", "--json", db=many)
    shown = [w["workflow_id"] for w in json.loads(result.stdout)]
    assert shown == [f"q-{n:02d}" for n in range(59, 9, -1)]
    assert "showing the newest 50 of 60 workflows" in result.stderr
    assert len(ids(invoke, many, "--all")) == 60
    assert ids(invoke, many, "--limit", "3") == ["q-59", "q-58", "q-57"]
    assert invoke("list", "--limit", "0", db=many).exit_code == 2


def test_list_since_until_and_type(invoke: Invoke, many: Path, fixed_db: Path) -> None:
    assert ids(invoke, many, "--since", "2026-01-01T00:57:00") == ["q-59", "q-58", "q-57"]
    assert ids(invoke, many, "--until", "2026-01-01T00:02:00") == ["q-01", "q-00"]
    both = ids(invoke, many, "--since", "2026-01-01T00:10:00+00:00", "--until", "2026-01-01T00:12")
    assert both == ["q-11", "q-10"]
    assert ids(invoke, many, "--since", "1h") == []  # an hour ago is long after 2026-01-01 01:00
    assert ids(invoke, fixed_db, "--type", "retrying") == ["retry-1"]
    bad = invoke("list", "--since", "yesterday", db=many)
    assert bad.exit_code == 2
    assert "--since 'yesterday' is neither an ISO 8601 time" in bad.stderr


def test_sql_reads_the_history(invoke: Invoke) -> None:
    query = "SELECT seq, kind FROM events WHERE workflow_id = 'order-1' ORDER BY seq"
    as_json = json.loads(invoke("sql", query, "--json").stdout)
    assert as_json[0] == {"seq": 1, "kind": "WorkflowStarted"}
    assert [r["kind"] for r in as_json][-1] == "WorkflowCompleted"
    csv = invoke("sql", query, "--format", "csv", "--limit", "2")
    assert csv.stdout == "seq,kind\n1,WorkflowStarted\n2,ActivityScheduled\n"
    assert "showing the first 2 rows" in csv.stderr
    table = invoke("sql", "SELECT count(*) AS n FROM events").stdout
    assert table.splitlines()[0].strip() == "n" and table.splitlines()[-1].strip() == "15"


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM events",
        "SELECT 1; DROP TABLE events",
        "COMMIT; DELETE FROM events",
        "CREATE TABLE x AS SELECT 1",
        "ATTACH '/tmp/other.duckdb'",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELEC nonsense",
    ],
)
def test_sql_changes_nothing_and_reads_no_files(invoke: Invoke, fixed_db: Path, query: str) -> None:
    before = invoke("sql", "SELECT count(*) AS n FROM events", "--json").stdout
    result = invoke("sql", query)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 2
    assert invoke("sql", "SELECT count(*) AS n FROM events", "--json").stdout == before


def test_follow_prints_a_finished_history_and_exits(invoke: Invoke) -> None:
    result = invoke("inspect", "order-1", "--follow")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].endswith('seq 1 WorkflowStarted order("o-1", 1299)')
    assert "seq 6 WorkflowCompleted" in lines[-1]
    as_json = invoke("inspect", "order-1", "-f", "--json").stdout.splitlines()
    assert [json.loads(line)["kind"] for line in as_json][-1] == "WorkflowCompleted"


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_subprocess_follow_and_sql_next_to_a_worker(tmp_path: Path) -> None:
    from aion.endpoint import endpoint_file

    db = str(tmp_path / "w.duckdb")
    worker = subprocess.Popen(
        aion_command("worker", "-m", SAMPLE, "--db", db),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    follower: subprocess.Popen[str] | None = None
    try:
        _wait_for(endpoint_file(db), worker)
        assert (
            run_aion("--db", db, "start", f"{SAMPLE}:approval", "o-9", "--id", "a-9").returncode
            == 0
        )
        follower = subprocess.Popen(
            aion_command("--db", db, "inspect", "a-9", "--follow", "--json"),
            cwd=ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert follower.stdout is not None
        first = json.loads(follower.stdout.readline())
        assert first["kind"] == "WorkflowStarted" and first["code"] == f"{SAMPLE}:approval"
        counted = run_aion("--db", db, "sql", "SELECT count(*) AS n FROM workflows", "--json")
        assert counted.returncode == 0, counted.stderr
        assert json.loads(counted.stdout) == [{"n": 1}]
        refused = run_aion("--db", db, "sql", "DELETE FROM events")
        assert refused.returncode == 2
        assert run_aion("--db", db, "signal", "a-9", "approve", "true").returncode == 0
        out, err = follower.communicate(timeout=60)
        assert follower.returncode == 0, err
        assert json.loads(out.splitlines()[-1])["kind"] == "WorkflowCompleted"
    finally:
        if follower is not None and follower.poll() is None:
            follower.kill()
        worker.send_signal(2)
        worker.communicate(timeout=30)
