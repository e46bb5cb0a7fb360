"""`aion worker` on PostgreSQL with commands beside it, all real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from aion_cli.endpoint import endpoint_file

from tests.cli.conftest import ROOT, SAMPLE, aion_command, run_aion, subprocess_env


def test_commands_beside_a_worker_on_postgres(pg_url: str) -> None:
    refused = run_aion("--db", pg_url, "start", f"{SAMPLE}:approval", "o-1")
    assert refused.returncode == 2
    assert "none serves this database" in refused.stderr and "Traceback" not in refused.stderr
    worker = subprocess.Popen(
        aion_command("--db", pg_url, "worker", SAMPLE),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    path = endpoint_file(pg_url)
    try:
        deadline = time.monotonic() + 30
        while not path.exists():
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker never published its endpoint"
            time.sleep(0.05)
        started = run_aion("--db", pg_url, "start", f"{SAMPLE}:approval", "o-7", "--id", "a-7")
        assert started.stdout == "started a-7 (approval)\n", started.stderr
        deadline = time.monotonic() + 20
        while (stage := run_aion("--db", pg_url, "query", "a-7", "stage").stdout) != (
            '"awaiting approval"\n'
        ):
            assert time.monotonic() < deadline, stage
            time.sleep(0.1)
        signalled = run_aion("--db", pg_url, "signal", "a-7", "approve", "true")
        assert signalled.returncode == 0, signalled.stderr
        deadline = time.monotonic() + 20
        while "completed" not in (
            listing := run_aion("--db", pg_url, "list", "--status", "completed").stdout
        ):
            assert time.monotonic() < deadline, listing
            time.sleep(0.1)
        events = json.loads(run_aion("--db", pg_url, "inspect", "a-7", "--json").stdout)["events"]
        assert events[-1]["result"] == {"approved": True, "receipt": "rcpt-o-7-100"}
        # terminate, and cancel --query (evaluated by aion sql's read-only path on PostgreSQL).
        for workflow_id in ("t-1", "q-1", "q-2"):
            made = run_aion("--db", pg_url, "start", f"{SAMPLE}:approval", "o", "--id", workflow_id)
            assert made.returncode == 0, made.stderr
        ended = run_aion("--db", pg_url, "terminate", "t-1", "--reason", "ops", "--json")
        assert ended.returncode == 0, ended.stderr
        swept = run_aion(
            "--db", pg_url, "cancel", "--query", "workflow_id LIKE 'q-%'", "--yes", "--json"
        )
        assert swept.returncode == 0, swept.stderr
        assert json.loads(swept.stdout)["requested"] == ["q-1", "q-2"]
        deadline = time.monotonic() + 20
        while True:
            listed = json.loads(run_aion("--db", pg_url, "list", "--json").stdout)
            found = {w["workflow_id"]: w["status"] for w in listed}
            if all(found.get(w) == "cancelled" for w in ("t-1", "q-1", "q-2")):
                break
            assert time.monotonic() < deadline, found
            time.sleep(0.1)
        events = json.loads(run_aion("--db", pg_url, "inspect", "t-1", "--json").stdout)["events"]
        assert events[-1]["terminated"] is True and events[-1]["reason"] == "ops"
    finally:
        worker.send_signal(signal.SIGINT)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert not path.exists()
