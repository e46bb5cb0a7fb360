# ruff: noqa: E501 - expected outputs are whole terminal lines
"""The real program in real processes: `aion run`, a worker with commands beside it, replay --all."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from aion.endpoint import endpoint_file
from tests.cli.conftest import CHANGED, ROOT, SAMPLE, aion_command, run_aion, subprocess_env


def test_aion_run_prints_the_result_and_exits_by_outcome(tmp_path: Path) -> None:
    db = str(tmp_path / "run.duckdb")
    done = run_aion("--db", db, "run", f"{SAMPLE}:quick", "5", "--id", "q-1")
    assert (done.returncode, done.stdout) == (0, "11\n")
    assert "q-1 completed in" in done.stderr
    failed = run_aion("--db", db, "run", f"{SAMPLE}:broken", "3", "--id", "b-1")
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        "error: workflow 'b-1' failed: ValueError: broken on 3.",
        "hint: `aion inspect ID` shows the history that led there.",
    ]


def _wait_for(path: Path, worker: subprocess.Popen[str], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert worker.poll() is None, worker.communicate()
        assert time.monotonic() < deadline, "the worker never published its endpoint"
        time.sleep(0.05)


def test_commands_talk_to_a_running_worker(tmp_path: Path) -> None:
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
        _wait_for(endpoint_file(db), worker)
        assert (
            run_aion("--db", db, "start", f"{SAMPLE}:approval", "o-7", "--id", "a-7").stdout
            == "started a-7 (approval)\n"
        )
        deadline = time.monotonic() + 10
        while (
            stage := run_aion("--db", db, "query", "a-7", "stage").stdout
        ) != '"awaiting approval"\n':
            assert time.monotonic() < deadline, stage
            time.sleep(0.1)
        signalled = run_aion("--db", db, "signal", "a-7", "approve", "true")
        assert (signalled.returncode, signalled.stdout) == (
            0,
            "signal 'approve' recorded for a-7\n",
        )
        deadline = time.monotonic() + 10
        while "completed" not in (
            listing := run_aion("--db", db, "list", "--status", "completed").stdout
        ):
            assert time.monotonic() < deadline, listing
            time.sleep(0.1)
        inspected = run_aion("--db", db, "inspect", "a-7")
        assert inspected.returncode == 0
        assert "SignalReceived" in inspected.stdout and "WorkflowCompleted" in inspected.stdout
        events = json.loads(run_aion("--db", db, "inspect", "a-7", "--json").stdout)["events"]
        assert events[-1]["result"] == {"approved": True, "receipt": "rcpt-o-7-100"}
    finally:
        worker.send_signal(signal.SIGINT)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert err.rstrip().endswith("worker stopped cleanly.")
    assert not endpoint_file(db).exists()


def test_replay_all_on_a_diverging_database(fixed_db: Path) -> None:
    result = run_aion("--db", str(fixed_db), "replay", "--all", "-m", CHANGED)
    assert result.returncode == 1
    assert "       3    2          1       0" in result.stdout
    assert "divergence in 'order-1' at seq 2" in result.stdout
    assert '("o-1", 1299)                               ("o-1", 1300)' in result.stdout
