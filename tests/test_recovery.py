"""Crash and recover for real: SIGKILL a worker process mid-run, then finish on the same file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import aion
from aion._events import ActivityCompleted
from aion.store import DuckDBStore
from tests.recovery_worker import NAMES, expected, pipeline, work

ROOT = Path(__file__).resolve().parent.parent


def run_worker(db: Path, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.recovery_worker", str(db), str(log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def executions(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, 5, 11])
def test_sigkill_mid_run_then_a_new_engine_finishes_everything(
    tmp_path: Path, kill_after: int
) -> None:
    db, log = tmp_path / "r.duckdb", tmp_path / "executions.log"
    worker = run_worker(db, log)
    deadline = time.monotonic() + 60
    while len(executions(log)) < kill_after:
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.005)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert worker.returncode == -signal.SIGKILL

    before = DuckDBStore(db, read_only=True)
    try:
        recorded = before.histories()
    finally:
        before.close()
    assert recorded, "nothing was committed before the kill"
    completed = {
        f"{w}:{e.run_id}:{e.ordinal}"
        for w, h in recorded.items()
        for e in h
        if isinstance(e, ActivityCompleted)
    }
    ran_before = len(executions(log))

    survivor = run_worker(db, log)
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    assert out.strip() == "done"

    with aion.Engine(str(db), workflows=[pipeline], activities=[work]) as engine:
        for name in NAMES:
            assert engine.run_until_complete(name, timeout=30) == expected(name)
            history = engine.history(name)
            if name in recorded:
                assert history[: len(recorded[name])] == recorded[name], (
                    "history before the kill changed"
                )
            assert [e.seq for e in history] == list(range(1, len(history) + 1))
    rerun = [line for line in executions(log)[ran_before:] if line.split()[0] in completed]
    assert rerun == [], f"activities whose completion was recorded ran again: {rerun}"
