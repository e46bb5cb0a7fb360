"""`aion terminate` and batch `aion cancel`: CliRunner on a file, real processes by a worker."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import aion
from aion.endpoint import endpoint_file
from aion.events import CancelRequested, Event
from tests.cli import sample_workflows as s
from tests.cli.conftest import ROOT, SAMPLE, Invoke, aion_command, run_aion, subprocess_env


def _history(db: Path, workflow_id: str) -> list[Event]:
    store = aion.DuckDBStore(db, read_only=True)
    try:
        return store.history(workflow_id)
    finally:
        store.close()


def _approvals(db: Path, *ids: str) -> None:
    with aion.Engine(str(db), workflows=[s.approval], activities=[s.charge]) as engine:
        for workflow_id in ids:
            engine.start(s.approval, workflow_id, workflow_id=workflow_id)
        engine.run_until_idle()


def test_terminate_without_a_worker_is_recorded_and_ends_at_the_next_run(
    invoke: Invoke, fixed_db: Path
) -> None:
    done = invoke("terminate", "appr-1", "--reason", "ops", "--json")
    assert done.exit_code == 0
    assert json.loads(done.stdout) == {
        "workflow_id": "appr-1",
        "terminate_requested": True,
        "queued": True,
    }
    last = _history(fixed_db, "appr-1")[-1]
    assert isinstance(last, CancelRequested) and last.terminate and last.reason == "ops"
    with aion.Engine(str(fixed_db), workflows=[s.approval], activities=[s.charge]) as engine:
        engine.run_until_idle()
        assert engine.describe("appr-1").status == "cancelled"
        history = engine.history("appr-1")
    assert aion.replay(s.approval, history).ok
    closed = invoke("terminate", "appr-1")
    assert closed.exit_code == 2
    assert closed.output.startswith(
        "error: workflow 'appr-1' is cancelled and cannot take a terminate request.\n"
    )
    assert invoke("terminate", "nope").exit_code == 2
    assert invoke("terminate").exit_code == 2  # no id, no filter: a usage error


def test_the_timeline_and_describe_show_a_terminated_run(invoke: Invoke, fixed_db: Path) -> None:
    assert invoke("terminate", "appr-1", "--reason", "ops").exit_code == 0
    with aion.Engine(str(fixed_db), workflows=[s.approval], activities=[s.charge]) as engine:
        engine.run_until_idle()
    described = json.loads(invoke("describe", "appr-1", "--json").stdout)
    assert described["status"] == "cancelled"
    events = json.loads(invoke("inspect", "appr-1", "--json").stdout)["events"]
    assert events[-1]["kind"] == "WorkflowCancelled" and events[-1]["terminated"] is True
    timeline = invoke("inspect", "appr-1").stdout
    assert "WorkflowCancelled" in timeline and "terminated: ops" in timeline
    replayed = invoke("replay", "appr-1")
    assert replayed.exit_code == 0, replayed.output
    listed = invoke("list", "--status", "cancelled", "--json")
    assert [w["workflow_id"] for w in json.loads(listed.stdout)] == ["appr-1"]


def test_batch_cancel_by_ids_and_by_filter(invoke: Invoke, fixed_db: Path) -> None:
    _approvals(fixed_db, "a-1", "a-2", "a-3")
    refused = invoke("cancel", "a-1", "a-2")
    assert refused.exit_code == 2 and "without --yes" in refused.output
    assert not isinstance(_history(fixed_db, "a-1")[-1], CancelRequested)
    many = invoke("cancel", "a-1", "order-1", "ghost", "--yes", "--json")
    assert many.exit_code == 2  # one id was not found
    assert json.loads(many.stdout) == {
        "action": "cancel",
        "requested": ["a-1"],
        "already_closed": ["order-1"],
        "not_found": ["ghost"],
        "queued": True,
    }
    # The filters of `aion list`: by default the open workflows they select.
    both = invoke("cancel", "--type", s.approval.__qualname__, "--reason", "sweep", "-y", "--json")
    assert both.exit_code == 0, both.output
    summary = json.loads(both.stdout)
    assert sorted(summary["requested"]) == ["a-1", "a-2", "a-3", "appr-1"]
    for workflow_id in ("a-2", "a-3", "appr-1"):
        last = _history(fixed_db, workflow_id)[-1]
        assert isinstance(last, CancelRequested) and last.reason == "sweep"
    # --query: a read-only SQL condition over the workflows (status derived on DuckDB).
    queried = invoke(
        "terminate", "--query", "status = 'running' AND workflow_id LIKE 'a-%'", "-y", "--json"
    )
    assert queried.exit_code == 0, queried.output
    assert sorted(json.loads(queried.stdout)["requested"]) == ["a-1", "a-2", "a-3"]
    hostile = "1=1); DELETE FROM events; SELECT 1 FROM (SELECT 1) AS x WHERE (1=1"
    refused = invoke("cancel", "--query", hostile, "-y", "--json")
    assert refused.exit_code == 2 and "exactly one SELECT" in refused.output
    # A condition can only choose among the store's workflows: an id it makes up is ignored.
    made_up = invoke("cancel", "--query", "1=0) UNION SELECT 'ghost' --", "-y", "--json")
    assert made_up.exit_code == 0, made_up.output
    assert "ghost" not in made_up.stdout
    assert len(_history(fixed_db, "a-1")) > 1  # nothing was deleted
    mixed = invoke("cancel", "a-1", "--status", "running")
    assert mixed.exit_code == 2 and "not both" in mixed.output
    none = invoke("terminate", "--type", "no-such-type", "--json")
    assert none.exit_code == 0 and json.loads(none.stdout)["requested"] == []
    text = invoke("terminate", "a-1", "a-2", "--yes")
    assert text.exit_code == 0
    assert text.stdout == "terminate requested for 2 workflow(s)\n"


def _wait_for(path: Path, worker: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert worker.poll() is None, worker.communicate()
        assert time.monotonic() < deadline, "the worker never published its endpoint"
        time.sleep(0.05)


def test_terminate_and_batch_cancel_through_a_running_worker(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    worker = subprocess.Popen(
        aion_command("--db", str(db), "worker", "-m", SAMPLE),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(endpoint_file(str(db)), worker)
        for workflow_id in ("t-1", "c-1", "c-2"):
            started = run_aion(
                "--db", str(db), "start", f"{SAMPLE}:approval", "o", "--id", workflow_id
            )
            assert started.returncode == 0, started.stderr
        ended = run_aion("terminate", "t-1", "--reason", "ops", "--json", "--db", str(db))
        assert ended.returncode == 0, ended.stderr
        assert json.loads(ended.stdout)["queued"] is False  # the worker recorded it
        cancelled = run_aion("--db", str(db), "cancel", "c-1", "c-2", "--yes", "--json")
        assert cancelled.returncode == 0, cancelled.stderr
        assert json.loads(cancelled.stdout)["requested"] == ["c-1", "c-2"]
        deadline = time.monotonic() + 30
        while True:
            listing = json.loads(run_aion("--db", str(db), "list", "--json").stdout)
            statuses = {w["workflow_id"]: w["status"] for w in listing}
            if all(statuses[w] == "cancelled" for w in ("t-1", "c-1", "c-2")):
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
        again = run_aion("--db", str(db), "terminate", "t-1")
        assert again.returncode == 2
        assert "cannot take a terminate request" in again.stderr
        events = json.loads(run_aion("--db", str(db), "inspect", "t-1", "--json").stdout)["events"]
        assert events[-1]["terminated"] is True and events[-1]["reason"] == "ops"
    finally:
        worker.send_signal(signal.SIGINT)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
