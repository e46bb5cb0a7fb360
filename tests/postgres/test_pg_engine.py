"""The engine, the CLI and recovery on a real PostgreSQL store (a single worker)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

from aion_cli.main import cli
from click.testing import CliRunner

import aion
from aion._cluster._fenced import FencedStore
from aion.store import PostgresStore


@aion.activity
def add(a: int, b: int) -> int:
    return a + b


@aion.workflow
def kid(n: int):  # type: ignore[no-untyped-def]
    return (yield aion.call(add, n, 100))


@aion.workflow
def looping(rounds: int, total: int):  # type: ignore[no-untyped-def]
    total = yield aion.call(add, total, rounds)
    yield aion.sleep(60)
    if rounds > 1:
        yield aion.continue_as_new(rounds - 1, total)
    bonus = yield aion.receive_signal("bonus")
    child = yield aion.await_child(kid, bonus)
    return {"total": total, "child": child}


def test_a_workflow_runs_end_to_end_and_survives_a_reopen(pg_url: str, epoch: datetime) -> None:
    clock = aion.ManualClock(start=epoch)
    engine = aion.Engine(pg_url, workflows=[looping, kid], activities=[add], clock=clock)
    # A PostgreSQL engine is a cluster member: its store is its session's fenced view.
    assert isinstance(engine.store, FencedStore) and isinstance(engine.store.pg, PostgresStore)
    engine.start(looping, 3, 0, workflow_id="w")
    with_signal = None
    try:
        engine.run_until_complete("w")
    except aion.WorkflowBlocked:
        with_signal = True  # three runs done; now it waits for "bonus"
    assert with_signal
    info = engine.store.info("w")
    assert info is not None and (info.status, info.runs) == ("running", 3)
    engine.close()

    clock2 = aion.ManualClock(start=clock.now())
    with aion.Engine(pg_url, workflows=[looping, kid], activities=[add], clock=clock2) as again:
        again.signal("w", "bonus", 5)
        result = again.run_until_complete("w")
        history = again.history("w")
    assert result == {"total": 6, "child": 105}
    seqs = [e.seq for e in history]
    assert seqs == list(range(1, len(seqs) + 1))
    replayer = aion.Replayer([looping, kid], [add])
    assert replayer.replay(history, "w").divergence is None

    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", pg_url, "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["workflow_id"]: r for r in json.loads(listed.output)}
    assert rows["w"]["status"] == "completed" and rows["w"]["runs"] == 3
    assert len(rows) == 2  # the child too
    inspected = runner.invoke(cli, ["--db", pg_url, "inspect", "w"])
    assert inspected.exit_code == 0, inspected.output
    assert "WorkflowContinuedAsNew" in inspected.output and "bonus" in inspected.output


def test_the_cli_reads_postgres_in_a_real_subprocess(pg_url: str) -> None:
    with aion.Engine(pg_url, workflows=[kid], activities=[add]) as engine:
        engine.start(kid, 1, workflow_id="k")
        assert engine.run_until_complete("k") == 101
    listed = subprocess.run(
        [sys.executable, "-m", "aion_cli", "--db", pg_url, "list", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert [r["workflow_id"] for r in json.loads(listed.stdout)] == ["k"]
    refused = subprocess.run(  # the CLI writes directly; the database refuses a closed workflow
        [sys.executable, "-m", "aion_cli", "--db", pg_url, "signal", "k", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: workflow 'k' is completed and cannot take a signal.")
    assert "Traceback" not in refused.stderr


def test_db_init_creates_and_checks_the_schema(pg_url: str, pg_database: str) -> None:
    import psycopg

    runner = CliRunner()
    missing = runner.invoke(cli, ["--db", pg_url, "list"])
    assert missing.exit_code == 3 and "there is no aion schema" in missing.output
    made = runner.invoke(cli, ["db", "init", "--db", pg_url])
    assert made.exit_code == 0, made.output
    assert "(version 3) is ready" in made.output
    again = runner.invoke(cli, ["--db", pg_url, "db", "init"])
    assert again.exit_code == 0, again.output
    schema = pg_url.rsplit("=", 1)[1]
    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute(f"UPDATE {schema}.meta SET value = '7' WHERE key = 'schema_version'")
    newer = runner.invoke(cli, ["db", "init", "--db", pg_url])
    assert newer.exit_code == 3
    assert "was written by a newer aion (schema version 7" in newer.output
