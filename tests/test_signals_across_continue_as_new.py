"""Issue 11, defect 1: no accepted signal or cancel is lost across continue-as-new.

Several events for one workflow committed in one batch, where an earlier one
makes the run decide ``continue_as_new``: the later signals and cancel requests
of that batch are recorded in the old run after its decision, and must reach
the successor (carried over, in order) instead of vanishing with the old run.
Each way of getting such a batch is covered: a sender workflow's
``collect_all`` of signals, threads signalling a serving engine, and offline
writes from the CLI applied when a worker next opens the file.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from aion_cli.main import cli
from click.testing import CliRunner

import aion
from aion._events import CancelRequested, SignalReceived, WorkflowContinuedAsNew, WorkflowStarted
from tests.cas_workflows import WORKFLOWS, burst, relay
from tests.cli.conftest import run_aion


def _runs(history: list[aion._events.Event]) -> list[list[aion._events.Event]]:
    runs: list[list[aion._events.Event]] = []
    for event in history:
        if isinstance(event, WorkflowStarted):
            runs.append([])
        runs[-1].append(event)
    return runs


def _check_shape(history: list[aion._events.Event]) -> None:
    """seq 1..n, and nothing recorded in a run after that run's end."""
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    for run in _runs(history):
        assert {e.run_id for e in run} == {run[0].run_id}
        ends = [i for i, e in enumerate(run) if isinstance(e, WorkflowContinuedAsNew)]
        assert ends in ([], [len(run) - 1])


def test_signals_sent_together_reach_the_successors(tmp_path: Path, epoch: datetime) -> None:
    path = str(tmp_path / "burst.duckdb")
    clock = aion.ManualClock(epoch)
    with aion.Engine(path, workflows=WORKFLOWS, clock=clock) as engine:
        engine.start(relay, 3, [], workflow_id="c")
        engine.start(burst, "c", [1, 2, 3], workflow_id="sender")
        assert engine.run_until_complete("sender") == 3
        assert engine.run_until_complete("c") == [1, 2, 3]
        history = engine.history("c")
    _check_shape(history)
    runs = _runs(history)
    assert len(runs) == 3
    # The successor of each run carries the signals its predecessor did not consume.
    carried = [
        [e.payload for e in run if isinstance(e, SignalReceived) and e.carried] for run in runs
    ]
    assert carried == [[], [2, 3], [3]]
    # Replaying the recorded file (recovery, then `aion.replay` of every run) agrees.
    with aion.Engine(path, workflows=WORKFLOWS, clock=clock) as again:
        assert again.describe("c").status == "completed"
        assert again.run_until_complete("c") == [1, 2, 3]
    for run in runs:
        assert aion.replay(relay, run).ok


def test_threads_signalling_a_serving_engine_lose_nothing(tmp_path: Path) -> None:
    threads, per_thread = 3, 40
    total = threads * per_thread
    engine = aion.Engine(str(tmp_path / "threads.duckdb"), workflows=WORKFLOWS)
    stop = threading.Event()
    server = threading.Thread(target=engine.serve, args=(stop,))
    try:
        handle = engine.start(relay, total, [], workflow_id="c")
        server.start()
        go = threading.Barrier(threads)

        def send(t: int) -> None:
            go.wait()
            for k in range(per_thread):
                engine.signal("c", "item", [t, k])

        senders = [threading.Thread(target=send, args=(t,)) for t in range(threads)]
        for s in senders:
            s.start()
        for s in senders:
            s.join()
        stop.set()
        server.join()
        # Every signal is durable (each `signal` returned): what remains runs here, and
        # a lost one leaves the workflow waiting (WorkflowBlocked) instead of finishing.
        got = engine.run_until_complete(handle.id)
    finally:
        stop.set()
        if server.is_alive():
            server.join()
        history = engine.history("c")
        engine.close()
    assert sorted(map(tuple, got)) == [(t, k) for t in range(threads) for k in range(per_thread)]
    for t in range(threads):  # each sender's signals are consumed in the order it sent them
        assert [k for tt, k in got if tt == t] == list(range(per_thread))
    _check_shape(history)


def _offline_db(tmp_path: Path, epoch: datetime) -> str:
    path = str(tmp_path / "offline.duckdb")
    with aion.Engine(path, workflows=WORKFLOWS, clock=aion.ManualClock(epoch)) as engine:
        engine.start(relay, 3, [], workflow_id="c")
        engine.run_until_idle()
    return path


def _cli(path: str, *args: str) -> None:
    result = CliRunner(env={"AION_DB": path, "NO_COLOR": "1"}).invoke(
        cli, list(args), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output


def _check_cancel_reached_the_successor(path: str) -> None:
    with aion.Engine(path, workflows=WORKFLOWS) as engine:
        with pytest.raises(aion.WorkflowCancelledError):
            engine.run_until_complete("c")
        history = engine.history("c")
    _check_shape(history)
    first, second = _runs(history)
    assert isinstance(first[-1], WorkflowContinuedAsNew)
    assert [type(e).__name__ for e in second][:2] == ["WorkflowStarted", "CancelRequested"]
    assert type(second[-1]).__name__ == "WorkflowCancelled"


def test_offline_signal_then_cancel_cancels_the_successor(tmp_path: Path, epoch: datetime) -> None:
    path = _offline_db(tmp_path, epoch)
    _cli(path, "signal", "c", "item", "1")
    _cli(path, "cancel", "c", "--reason", "changed my mind")
    _check_cancel_reached_the_successor(path)


def test_offline_signal_then_cancel_in_real_processes(tmp_path: Path, epoch: datetime) -> None:
    path = _offline_db(tmp_path, epoch)
    assert run_aion("--db", path, "signal", "c", "item", "1").returncode == 0
    assert run_aion("--db", path, "cancel", "c").returncode == 0
    _check_cancel_reached_the_successor(path)


def test_offline_signals_reach_successors_in_order(tmp_path: Path, epoch: datetime) -> None:
    path = _offline_db(tmp_path, epoch)
    for item in ("1", "2", "3"):
        _cli(path, "signal", "c", "item", item)
    with aion.Engine(path, workflows=WORKFLOWS) as engine:
        assert engine.run_until_complete("c") == [1, 2, 3]
        history = engine.history("c")
    _check_shape(history)
    # Every non-carried signal is recorded once; the carried copies go to later runs.
    arrived = [e.payload for e in history if isinstance(e, SignalReceived) and not e.carried]
    assert arrived == [1, 2, 3]
    assert not any(isinstance(e, CancelRequested) for e in history)
