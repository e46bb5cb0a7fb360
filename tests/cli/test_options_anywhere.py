"""``--db``, ``-m``, ``--path`` and ``--json`` mean the same before and after the subcommand."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from aion_cli.main import cli
from click.testing import CliRunner, Result

from tests.cli.conftest import CHANGED, ROOT, SAMPLE, WIDTH, aion_command, run_aion, subprocess_env


def plain(*args: str, **env: str | None) -> Result:
    """The CLI in-process with no AION_DB unless given."""
    runner = CliRunner(env={"AION_DB": None, "COLUMNS": str(WIDTH), "NO_COLOR": "1", **env})
    return runner.invoke(cli, list(args), catch_exceptions=False)


READS = [
    ["list"],
    ["describe", "order-1"],
    ["inspect", "order-1"],
    ["query", "appr-1", "stage", "-m", SAMPLE],
]


@pytest.mark.parametrize("command", READS, ids=lambda c: c[0])
def test_db_and_json_before_or_after_give_the_same_output(
    fixed_db: Path, command: list[str]
) -> None:
    before = plain("--db", str(fixed_db), "--json", *command)
    after = plain(*command, "--db", str(fixed_db), "--json")
    assert before.exit_code == after.exit_code == 0, (before.output, after.output)
    assert before.output == after.output
    json.loads(after.stdout)  # it is JSON, wherever --json was given
    env = plain(*command, "--json", AION_DB=str(fixed_db))
    assert env.output == after.output


@pytest.mark.parametrize(
    "command", [*READS, ["replay", "order-1", "-m", SAMPLE]], ids=lambda c: c[0]
)
def test_format_before_or_after_gives_the_same_output(fixed_db: Path, command: list[str]) -> None:
    before = plain("--db", str(fixed_db), "--format", "csv", *command)
    after = plain(*command, "--db", str(fixed_db), "--format", "csv")
    assert before.exit_code == after.exit_code == 0, (before.output, after.output)
    assert before.output == after.output
    table = plain(*command, "--db", str(fixed_db))
    assert after.stdout != table.stdout  # CSV, not the table, wherever --format was given


def test_a_later_db_wins_and_a_missing_one_is_reported(fixed_db: Path, tmp_path: Path) -> None:
    gone = str(tmp_path / "absent.duckdb")
    result = plain("--db", gone, "list", "--db", str(fixed_db), "--json")
    assert result.exit_code == 0
    assert {w["workflow_id"] for w in json.loads(result.stdout)} == {"order-1", "retry-1", "appr-1"}
    missing = plain("--db", str(fixed_db), "list", "--db", gone)
    assert missing.exit_code == 3
    assert f"there is no aion database at {gone!r}." in missing.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_module_before_or_after_replay(fixed_db: Path, where: str) -> None:
    args = ["-m", CHANGED]
    command = ["replay", "order-1", "--json"]
    full = [*args, "--db", str(fixed_db), *command] if where == "before" else [*command, *args]
    result = plain(*full, AION_DB=str(fixed_db))
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0]["divergence"]["seq"] == 2


def test_modules_given_on_both_sides_add_up(fixed_db: Path) -> None:
    # Later modules win: SAMPLE's order (named after the command) replays cleanly,
    # where CHANGED's alone would diverge. So the -m after the command was not dropped.
    db = str(fixed_db)
    result = plain("-m", CHANGED, "replay", "order-1", "-m", SAMPLE, "--json", AION_DB=db)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["ok"] is True


def test_start_takes_m_and_a_bare_workflow_name(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    started = plain("--db", db, "start", "quick", "3", "--id", "q-1", "-m", SAMPLE, "--json")
    assert started.exit_code == 0, started.output
    assert json.loads(started.stdout) == {"workflow_id": "q-1", "workflow": "quick", "queued": True}
    signalled = plain("signal", "q-1", "x", "1", "--db", db, "--json")
    assert json.loads(signalled.stdout) == {
        "workflow_id": "q-1",
        "signal": "x",
        "recorded": True,
        "queued": True,
    }
    cancelled = plain("--json", "cancel", "q-1", "--db", db)
    assert json.loads(cancelled.stdout)["cancel_requested"] is True
    nothing = plain("--db", db, "start", "quick", "3")
    assert nothing.exit_code == 2
    assert "'quick' does not name a workflow as MODULE:WORKFLOW." in nothing.output


def test_worker_without_any_module_is_a_usage_error(tmp_path: Path) -> None:
    result = plain("--db", str(tmp_path / "w.duckdb"), "worker")
    assert result.exit_code == 2
    assert "no module was given" in result.output


def test_db_init_takes_db_on_either_side(tmp_path: Path) -> None:
    first = plain("db", "init", "--db", str(tmp_path / "a.duckdb"), "--json")
    second = plain("--db", str(tmp_path / "b.duckdb"), "--json", "db", "init")
    assert json.loads(first.stdout)["ready"] is json.loads(second.stdout)["ready"] is True
    assert (tmp_path / "a.duckdb").exists() and (tmp_path / "b.duckdb").exists()


def test_subprocess_options_after_the_command(fixed_db: Path) -> None:
    listed = run_aion("list", "--json", "--db", str(fixed_db))
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 3
    replayed = run_aion("replay", "--all", "--db", str(fixed_db), "-m", CHANGED, "--json")
    assert replayed.returncode == 1
    assert json.loads(replayed.stdout)["diverged"] == 1


def test_subprocess_worker_takes_m_and_json(tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    worker = subprocess.Popen(
        aion_command("worker", "-m", SAMPLE, "--db", db, "--json"),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        info = json.loads(line)
        assert info["db"] == db and info["workflows"] >= 5 and info["port"] > 0
        done = run_aion("run", "quick", "4", "-m", SAMPLE, "--db", db, "--id", "q-4", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"workflow_id": "q-4", "status": "completed", "result": 9}
        deadline = time.monotonic() + 10
        while "q-4" not in run_aion("--db", db, "list").stdout:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        worker.send_signal(2)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
