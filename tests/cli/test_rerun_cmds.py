"""`aion reset/fork/retry/resume`: CliRunner on a file, and real processes beside a worker."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import aion
from aion.endpoint import endpoint_file
from aion.events import Event, WorkflowCancelled, WorkflowStarted
from tests.cli import sample_workflows as s
from tests.cli.conftest import ROOT, Invoke, aion_command, run_aion, subprocess_env


def _history(db: Path, workflow_id: str) -> list[Event]:
    store = aion.DuckDBStore(db, read_only=True)
    try:
        return store.history(workflow_id)
    finally:
        store.close()


def _engine(db: Path) -> aion.Engine:
    return aion.Engine(
        str(db),
        workflows=[s.order, s.approval, s.retrying, s.broken],
        activities=[s.charge, s.flaky, s.double],
    )


def test_reset_and_fork_without_a_worker_are_driven_by_the_next_one(
    invoke: Invoke, fixed_db: Path
) -> None:
    before = _history(fixed_db, "order-1")
    reset = invoke("reset", "order-1", "--to", "3", "--json")
    assert reset.exit_code == 0, reset.output
    answer = json.loads(reset.stdout)
    assert answer["op"] == "reset" and answer["queued"] is True
    forked = invoke("--json", "fork", "order-1", "--at", "3", "--id", "order-1-copy")
    assert forked.exit_code == 0, forked.output
    assert json.loads(forked.stdout)["new_id"] == "order-1-copy"
    with _engine(fixed_db) as engine:
        assert engine.run_until_complete("order-1") == engine.run_until_complete("order-1-copy")
        after, fork = engine.history("order-1"), engine.history("order-1-copy")
    new_run = [e for e in after if e.run_id == answer["run_id"]]
    assert isinstance(new_run[0], WorkflowStarted) and new_run[0].origin is not None
    assert after[: len(before)] == before  # the old run is kept as it was
    strip = [(type(e), getattr(e, "ordinal", None)) for e in before[:3]]
    assert [(type(e), getattr(e, "ordinal", None)) for e in fork[:3]] == strip
    assert aion.replay(s.order, new_run).ok and aion.replay(s.order, fork).ok
    bad = invoke("reset", "order-1", "--to", "999")
    assert bad.exit_code == 2 and "is not in the history" in bad.output
    not_failed = invoke("retry", "order-1")
    assert not_failed.exit_code == 2 and "only a failed workflow" in not_failed.output
    assert invoke("fork", "order-1", "--at", "2", "--id", "order-1-copy").exit_code == 2
    no_worker = invoke("resume", "appr-1")
    assert no_worker.exit_code == 2 and "needs a running worker" in no_worker.output
    assert invoke("reset", "order-1").exit_code == 2  # --to is required


def test_retry_of_a_failed_workflow_without_a_worker(invoke: Invoke, fixed_db: Path) -> None:
    with _engine(fixed_db) as engine:
        engine.start(s.broken, 3, workflow_id="b-1")
        engine.run_until_idle()
    retried = invoke("retry", "b-1")
    assert retried.exit_code == 0, retried.output
    assert retried.stdout.startswith("b-1: new run ")
    with _engine(fixed_db) as engine:
        engine.run_until_idle()
        history = engine.history("b-1")
    runs = [e for e in history if isinstance(e, WorkflowStarted)]
    assert len(runs) == 2 and runs[1].previous_run_id == runs[0].run_id
    # The code raised: the new run reuses the recorded call and raises again.
    assert type(history[-1]).__name__ == "WorkflowFailed"
    done = [e for e in history if type(e).__name__ == "ActivityCompleted"]
    assert [e.run_id for e in done] == [runs[0].run_id, runs[1].run_id]
    assert done[0].recorded_at == done[1].recorded_at  # copied, not run again


FLOWS_V1 = """
import aion
from pathlib import Path


@aion.activity(retry=aion.RetryPolicy(max_attempts=1))
def fetch(name: str) -> str:
    if not (Path(__file__).parent / "fixed").exists():
        raise RuntimeError("not fixed yet")
    return "fetched " + name


@aion.workflow
def job(name: str):
    got = yield aion.call(fetch, name)
    return got


@aion.activity
def greet(name: str) -> str:
    return "hi " + name


@aion.workflow
def waiter(name: str):
    hello = yield aion.call(greet, name)
    go = yield aion.receive_signal("go")
    return [hello, go]
"""
FLOWS_V2 = FLOWS_V1.replace(
    "hello = yield aion.call(greet, name)",
    "yield aion.sleep(1)\n    hello = yield aion.call(greet, name)",
)


def _worker(db: Path, flows: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        aion_command("--db", str(db), "worker", "-m", str(flows)),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not endpoint_file(str(db)).exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the worker never published its endpoint"
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def _status(db: Path, workflow_id: str, want: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        shown = run_aion("--db", str(db), "list", "--all", "--json")
        found = {w["workflow_id"]: w["status"] for w in json.loads(shown.stdout or "[]")}
        if found.get(workflow_id) == want:
            return
        assert time.monotonic() < deadline, shown.stdout + shown.stderr
        time.sleep(0.1)


def test_resume_retry_reset_and_fork_through_a_running_worker(tmp_path: Path) -> None:
    db, flows = tmp_path / "w.duckdb", tmp_path / "flows.py"
    flows.write_text(FLOWS_V1)
    worker = _worker(db, flows)
    try:
        assert (
            run_aion(
                "--db", str(db), "start", "-m", str(flows), "waiter", "x", "--id", "w"
            ).returncode
            == 0
        )
        assert (
            run_aion("--db", str(db), "start", "-m", str(flows), "job", "y", "--id", "j").returncode
            == 0
        )
        _status(db, "j", "failed")
    finally:
        _stop(worker)
    flows.write_text(FLOWS_V2)  # a bad deploy: the waiter no longer matches its history
    worker = _worker(db, flows)
    try:
        _status(db, "w", "stalled")
        still = run_aion("--db", str(db), "resume", "w", "--json")
        assert still.returncode == 1 and json.loads(still.stdout)["status"] == "stalled"
        flows.write_text(FLOWS_V1 + "\n# fixed\n")  # the fix, on disk; the worker keeps running
        resumed = run_aion("resume", "w", "--db", str(db), "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout) == {
            "op": "resume",
            "workflow_id": "w",
            "status": "running",
            "queued": False,
        }
        assert run_aion("--db", str(db), "signal", "w", "go", "1").returncode == 0
        _status(db, "w", "completed")
        # retry: the activity's outside world is fixed; the worker retries at once.
        (tmp_path / "fixed").write_text("")
        retried = run_aion("--db", str(db), "retry", "j", "--json")
        assert retried.returncode == 0, retried.stderr
        assert json.loads(retried.stdout)["queued"] is False
        _status(db, "j", "completed")
        # reset and fork of the completed waiter: the activity is reused, the signal awaited.
        events = json.loads(run_aion("--db", str(db), "inspect", "w", "--json").stdout)["events"]
        scheduled = next(e["seq"] for e in events if e["kind"] == "ActivityCompleted")
        reset = run_aion("--db", str(db), "reset", "w", "--to", str(scheduled))
        assert reset.returncode == 0 and reset.stdout.startswith("w: new run "), reset.stderr
        forked = run_aion(
            "--db", str(db), "fork", "w", "--at", str(scheduled), "--id", "w2", "--json"
        )
        assert forked.returncode == 0, forked.stderr
        _status(db, "w", "running")
        _status(db, "w2", "running")
        assert run_aion("--db", str(db), "signal", "w2", "go", "2").returncode == 0
        _status(db, "w2", "completed")
        replayed = run_aion("--db", str(db), "-m", str(flows), "replay", "--all")
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        bad = run_aion("--db", str(db), "reset", "w", "--to", "999")
        assert bad.returncode == 2 and "is not in the history" in bad.stderr
    finally:
        _stop(worker)
    history = _history(db, "w")
    assert sum(isinstance(e, WorkflowStarted) for e in history) == 2
    assert any(isinstance(e, WorkflowCancelled) for e in history) is False  # it had completed
    kinds = [type(e).__name__ for e in history]
    assert "WorkflowResumed" in kinds
