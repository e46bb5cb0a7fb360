"""The ``aion`` logger: one record per event that matters, never twice across replay or restart.

Checked on a real DuckDB file: a workflow whose activity fails once and is
retried, one that fails, one that waits for a signal across an engine
restart. The restarted engine replays every unfinished workflow; it logs its
one recovery line and nothing that the first engine already logged. And
`aion worker -v`, in a real process, writes those records to stderr.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import aion
from aion.endpoint import endpoint_file
from tests.cli.conftest import ROOT, SAMPLE, aion_command, run_aion, subprocess_env

_TRIES: dict[str, int] = {}


@aion.activity(name="log.flaky", retry=aion.RetryPolicy(initial_interval=timedelta(0)))
def flaky(key: str) -> str:
    _TRIES[key] = _TRIES.get(key, 0) + 1
    if _TRIES[key] == 1:
        msg = f"first try of {key}"
        raise RuntimeError(msg)
    return f"ok-{key}"


@aion.workflow(name="log.retried")
def retried(key: str) -> Any:
    value = yield aion.call(flaky, key)
    return value


@aion.workflow(name="log.broken")
def broken() -> Any:
    yield aion.sleep(timedelta(0))
    msg = "broken on purpose"
    raise ValueError(msg)


@aion.workflow(name="log.waits")
def waits() -> Any:
    value = yield aion.receive_signal("go")
    return value


def _engine(path: Path) -> aion.Engine:
    return aion.Engine(str(path), workflows=[retried, broken, waits], activities=[flaky])


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.levelname} {r.getMessage()}" for r in caplog.records if r.name == "aion"]


def test_each_event_is_logged_once_and_a_restart_logs_only_its_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aion")
    path = tmp_path / "log.duckdb"
    with _engine(path) as engine:
        engine.start(retried, "k1", workflow_id="r")
        engine.start(broken, workflow_id="b")
        engine.start(waits, workflow_id="w")
        assert engine.run_until_complete("r") == "ok-k1"
        with pytest.raises(aion.WorkflowFailedError):
            engine.run_until_complete("b")
        engine.run_until_idle()
        run_id = engine.history("r")[0].run_id
    first = _lines(caplog)
    assert f"INFO workflow r (log.retried) started, run {run_id}" in first
    assert sum("started" in line for line in first) == 3
    failed_attempts = [line for line in first if "activity attempt" in line]
    assert len(failed_attempts) == 1
    assert failed_attempts[0].startswith(
        "WARNING workflow r: activity attempt 1 (ordinal 1) failed: "
        "RuntimeError: first try of k1; retry at "
    )
    assert "INFO workflow r completed" in first
    assert "WARNING workflow b failed: ValueError: broken on purpose" in first
    assert not any(line.startswith("INFO workflow w completed") for line in first)

    caplog.clear()
    with _engine(path) as engine:  # recovery replays w (and nothing is logged again for it)
        recovery = _lines(caplog)
        assert len(recovery) == 1, recovery
        assert recovery[0].startswith("INFO recovered 1 unfinished workflow(s) in ")
        engine.signal("w", "go", 7)
        assert engine.run_until_complete("w") == 7
    assert _lines(caplog)[1:] == ["INFO workflow w completed"]


def test_aion_worker_v_logs_to_stderr_in_a_real_process(tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    worker = subprocess.Popen(
        aion_command("--db", db, "worker", "-v", "-m", SAMPLE),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not endpoint_file(db).exists():  # serving: the start goes through the worker
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker never published its endpoint"
            time.sleep(0.05)
        started = run_aion("--db", db, "start", f"{SAMPLE}:quick", "4", "--id", "q-1")
        assert started.returncode == 0, started.stderr
        while "completed" not in run_aion("--db", db, "list", "--status", "completed").stdout:
            assert time.monotonic() < deadline, "q-1 never completed"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGINT)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    lines = err.splitlines()
    assert any(line.endswith("INFO aion: workflow q-1 completed") for line in lines), err
    assert sum(" INFO aion: workflow q-1 (quick) started, run " in line for line in lines) == 1, err
