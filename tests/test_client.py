"""`aion.Client` on DuckDB: through a running worker's endpoint, or the file when none runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import aion
from tests.cli.conftest import ROOT, SAMPLE, aion_command, subprocess_env
from tests.cli.sample_workflows import approval, charge


def test_without_a_worker_the_client_records_and_a_worker_runs_it_later(tmp_path: Path) -> None:
    db = str(tmp_path / "c.duckdb")
    client = aion.Client(db, workflows=[approval])
    with pytest.raises(aion.WorkflowArgumentError, match="cannot start workflow 'approval'"):
        client.start(approval, "a", "b")
    assert client.start(approval, "o-1", workflow_id="a-1") == "a-1"
    started = client.history("a-1")[0]
    assert isinstance(started, aion.events.WorkflowStarted)
    assert started.code == "tests.cli.sample_workflows:approval"  # the CLI finds it without -m
    with pytest.raises(aion.WorkflowAlreadyExists, match="'a-1' already exists"):
        client.start(approval, "o-1", workflow_id="a-1")
    client.signal("a-1", "approve", True)
    with pytest.raises(aion.WorkflowNotFound):
        client.signal("nope", "approve", True)
    assert [i.workflow_id for i in client.list()] == ["a-1"]
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.1s"):
        client.result("a-1", timeout=0.1)
    with aion.Engine(db, workflows=[approval], activities=[charge]) as engine:
        engine.run_until_complete("a-1")
    assert client.result("a-1") == {"receipt": "rcpt-o-1-100", "approved": True}
    assert client.describe("a-1").status == "completed"
    assert client.query("a-1", "stage") == "done"  # replayed here, with the code given
    with pytest.raises(aion.WorkflowClosed, match="is completed and cannot take a signal"):
        client.signal("a-1", "approve", False)
    kinds = [type(e).__name__ for e in client.history("a-1")]
    assert kinds[0] == "WorkflowStarted" and kinds[-1] == "WorkflowCompleted"
    # With no worker, a terminate is recorded in the file; the next worker ends the run.
    client.start(approval, "o-2", workflow_id="a-2")
    client.terminate("a-2", "ops")
    last = client.history("a-2")[-1]
    assert isinstance(last, aion.events.CancelRequested) and last.terminate
    with aion.Engine(db, workflows=[approval], activities=[charge]) as engine:
        engine.run_until_idle()
    with pytest.raises(aion.WorkflowCancelledError, match="terminated: ops"):
        client.result("a-2")


def test_with_a_worker_running_the_client_goes_through_its_endpoint(tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    worker = subprocess.Popen(
        aion_command("--db", db, "worker", SAMPLE),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = Path(os.path.abspath(db) + ".aion-worker.json")
        deadline = time.monotonic() + 20
        while not endpoint.exists():
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker never published its endpoint"
            time.sleep(0.05)
        client = aion.Client(db)  # no code: the worker answers queries
        assert client.start("approval", "o-7", workflow_id="a-7") == "a-7"
        deadline = time.monotonic() + 10
        while client.query("a-7", "stage") != "awaiting approval":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert any("approve" in line for line in client.describe("a-7").pending)
        client.signal("a-7", "approve", True)
        assert client.result("a-7", timeout=10) == {"receipt": "rcpt-o-7-100", "approved": True}
        with pytest.raises(aion.WorkflowClosed):
            client.cancel("a-7")
        with pytest.raises(aion.WorkflowNotFound):
            client.describe("missing")
        # terminate goes through the endpoint too, and ends the run at once.
        client.start("approval", "o-8", workflow_id="a-8")
        client.terminate("a-8", "not needed")
        with pytest.raises(aion.WorkflowCancelledError, match="terminated: not needed"):
            client.result("a-8", timeout=10)
        with pytest.raises(aion.WorkflowClosed, match="cannot take a terminate request"):
            client.terminate("a-8")
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=30)
