"""The CLI on PostgreSQL writes to the database itself: no worker has to run for it.

`aion start`, `signal` and `cancel` go through `aion.Client` (a start is a
committed ``WorkflowStarted``, a signal or cancel an inbox row), so they
succeed with no worker anywhere; a worker started afterwards claims the
workflows and records what was sent, exactly once. Both through click's
runner (in this process) and as real ``python -m aion_cli`` processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from aion_cli.main import cli
from click.testing import CliRunner, Result

import aion
from aion._cluster import ClusterWorker
from tests.cli.conftest import ROOT, SAMPLE, aion_command, run_aion, subprocess_env
from tests.cli.sample_workflows import approval, charge

APPROVAL = f"{SAMPLE}:approval"


def _cli(url: str, *args: str) -> Result:
    return CliRunner(env={"NO_COLOR": "1", "AION_DB": None}).invoke(cli, ["--db", url, *args])


@pytest.fixture
def start_worker(pg_url: str) -> Iterator[Callable[[], None]]:
    """Starts a cluster worker on the test's database when called (stopped at the end)."""
    node = ClusterWorker(pg_url, workflows=[approval], activities=[charge], lease_seconds=5)
    stop = threading.Event()
    thread = threading.Thread(target=node.serve, args=(stop,), daemon=True)
    yield thread.start
    stop.set()
    if thread.is_alive():
        thread.join(timeout=30)


def test_start_signal_cancel_with_no_worker_then_a_worker_runs_them(
    pg_url: str, start_worker: Callable[[], None]
) -> None:
    started = _cli(pg_url, "start", APPROVAL, "o-1", "--id", "a-1", "--json")
    assert started.exit_code == 0, started.output
    assert json.loads(started.stdout) == {
        "workflow_id": "a-1",
        "workflow": "approval",
        "queued": True,
    }
    assert "no worker serves" not in started.output  # on PostgreSQL any worker picks it up
    plain = _cli(pg_url, "start", APPROVAL, "o-2", "--id", "a-2")
    assert (plain.exit_code, plain.stdout) == (0, "started a-2 (approval)\n")
    again = _cli(pg_url, "start", APPROVAL, "o-1", "--id", "a-1")
    assert again.exit_code == 2 and "workflow 'a-1' already exists" in again.output

    signalled = _cli(pg_url, "signal", "a-1", "approve", "true", "--json")
    assert signalled.exit_code == 0, signalled.output
    assert json.loads(signalled.stdout) == {
        "workflow_id": "a-1",
        "signal": "approve",
        "recorded": True,
        "queued": True,
    }
    cancelled = _cli(pg_url, "cancel", "a-2", "--reason", "changed my mind", "--json")
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.stdout) == {
        "workflow_id": "a-2",
        "cancel_requested": True,
        "queued": True,
    }
    for args in (("signal", "nope", "approve"), ("cancel", "nope")):
        unknown = _cli(pg_url, *args)
        assert unknown.exit_code == 2, unknown.output
        assert "error: no workflow with id 'nope' in this store." in unknown.output

    # No worker has run: the history holds the start (naming its code), the rest waits.
    history = aion.Client(pg_url).history("a-1")
    assert [type(e).__name__ for e in history] == ["WorkflowStarted"]
    assert isinstance(history[0], aion.events.WorkflowStarted)
    assert history[0].code == "tests.cli.sample_workflows:approval"
    described = _cli(pg_url, "describe", "a-1", "--json")
    assert described.exit_code == 0 and json.loads(described.stdout)["status"] == "running"
    asked = _cli(pg_url, "query", "a-1", "stage")  # replayed here under the recorded code
    assert (asked.exit_code, asked.stdout) == (0, '"charging"\n')

    start_worker()
    with aion.Client(pg_url) as client:
        assert client.result("a-1", timeout=60) == {"receipt": "rcpt-o-1-100", "approved": True}
        with pytest.raises(aion.WorkflowCancelledError):
            client.result("a-2", timeout=60)
        kinds = [type(e).__name__ for e in client.history("a-1")]
    assert kinds.count("SignalReceived") == 1  # the inbox row was recorded exactly once
    late = _cli(pg_url, "signal", "a-1", "approve", "false")
    assert late.exit_code == 2 and "is completed and cannot take a signal" in late.output
    listed = _cli(pg_url, "list", "--json")
    statuses = {w["workflow_id"]: w["status"] for w in json.loads(listed.stdout)}
    assert statuses == {"a-1": "completed", "a-2": "cancelled"}


def test_real_processes_write_with_no_worker_then_aion_worker_runs_them(pg_url: str) -> None:
    started = run_aion("--db", pg_url, "start", APPROVAL, "o-7", "--id", "a-7", "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["queued"] is True
    by_env = subprocess.run(  # AION_DB names the database as --db does
        aion_command("start", APPROVAL, "o-8", "--id", "a-8"),
        cwd=ROOT,
        env=subprocess_env(AION_DB=pg_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (by_env.returncode, by_env.stdout) == (0, "started a-8 (approval)\n"), by_env.stderr
    signalled = run_aion("--db", pg_url, "signal", "a-7", "approve", "true")
    assert signalled.returncode == 0, signalled.stderr
    assert signalled.stdout == "signal 'approve' recorded for a-7\n"
    cancelled = run_aion("--db", pg_url, "cancel", "a-8")
    assert (cancelled.returncode, cancelled.stdout) == (0, "cancel requested for a-8\n")
    unknown = run_aion("--db", pg_url, "signal", "missing", "approve")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: no workflow with id 'missing' in this store.")
    assert "Traceback" not in unknown.stderr

    worker = subprocess.Popen(
        aion_command("--db", pg_url, "--json", "worker", SAMPLE),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = json.loads(worker.stdout.readline())
        assert line["pid"] == worker.pid and line["port"] is None  # no endpoint on PostgreSQL
        second = run_aion("--db", pg_url, "start", APPROVAL, "o-9", "--id", "a-9")
        assert second.returncode == 0, second.stderr
        deadline = time.monotonic() + 60
        while "awaiting approval" not in (
            stage := run_aion("--db", pg_url, "query", "a-9", "stage").stdout
        ):
            assert time.monotonic() < deadline, stage
            time.sleep(0.2)
        assert run_aion("--db", pg_url, "signal", "a-9", "approve", "false").returncode == 0
        with aion.Client(pg_url) as client:
            assert client.result("a-7", timeout=60) == {"receipt": "rcpt-o-7-100", "approved": True}
            assert client.result("a-9", timeout=60) == {
                "receipt": "rcpt-o-9-100",
                "approved": False,
            }
            with pytest.raises(aion.WorkflowCancelledError):
                client.result("a-8", timeout=60)
        shown = run_aion("--db", pg_url, "inspect", "a-7", "--json")
        events = json.loads(shown.stdout)["events"]
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
        _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err


def test_terminate_with_no_worker_and_reruns_refused_on_postgres(
    pg_url: str, start_worker: Callable[[], None]
) -> None:
    assert _cli(pg_url, "start", APPROVAL, "o-9", "--id", "t-9").exit_code == 0
    ended = _cli(pg_url, "terminate", "t-9", "--reason", "ops", "--json")
    assert ended.exit_code == 0, ended.output
    assert json.loads(ended.stdout)["terminate_requested"] is True
    assert "no worker serves" not in ended.output
    refused = _cli(pg_url, "reset", "t-9", "--to", "1")
    assert refused.exit_code == 2 and "does not run on PostgreSQL" in refused.output
    start_worker()  # claims t-9 and records the terminate from its inbox
    with (
        aion.Client(pg_url) as client,
        pytest.raises(aion.WorkflowCancelledError, match="terminated: ops"),
    ):
        client.result("t-9", timeout=30)
