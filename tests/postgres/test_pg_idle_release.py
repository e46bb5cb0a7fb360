"""Workers release idle workflows; any worker claims them again when a timer or message is due.

A workflow waiting only on a timer, a signal or a child, idle for the
session's ``aion_release_idle`` seconds and with no timer due within that
time, is released (``owner`` NULL, ``idle`` true) and dropped from its
worker's memory. It is claimed again, by whichever worker is free, once its
timer is due or a message is posted to it, and replays from its history.
Real worker processes (`tests.postgres.cluster_worker`) and a real database.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aion
from aion._events import SignalReceived, TimerFired, TimerStarted, WorkflowCompleted
from aion.store import PostgresStore, open_store
from tests.postgres import cluster_flows
from tests.postgres.cluster_flows import ACTIVITIES, WORKFLOWS
from tests.postgres.cluster_worker import with_lease
from tests.postgres.helpers import until

RELEASE = 0.5  # seconds idle before a release (the URL's aion_release_idle)


def _url(pg_url: str) -> str:
    return f"{pg_url}&aion_release_idle={RELEASE}"


class Worker:
    """``python -m tests.postgres.cluster_worker URL LEASE``, as a user runs it."""

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.postgres.cluster_worker", url, "5"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def _row(admin: Any, schema: str, workflow_id: str) -> tuple[Any, ...]:
    """``(owner, idle, epoch, status)`` of a workflow's row."""
    row = admin.execute(
        f"SELECT owner, idle, epoch, status FROM {schema}.workflows WHERE workflow_id = %s",
        [workflow_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def _released(admin: Any, schema: str, workflow_id: str) -> bool:
    owner, idle, _, status = _row(admin, schema, workflow_id)
    return owner is None and idle and status == "running"


def _session_of(admin: Any, schema: str, worker: Worker) -> int:
    row = admin.execute(
        f"SELECT session_id FROM {schema}.sessions WHERE name LIKE %s",
        [f"%:{worker.proc.pid}"],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _writers(admin: Any, schema: str, workflow_id: str) -> dict[str, set[int | None]]:
    rows = admin.execute(
        f"SELECT kind, written_by FROM {schema}.events WHERE workflow_id = %s", [workflow_id]
    ).fetchall()
    out: dict[str, set[int | None]] = {}
    for kind, writer in rows:
        out.setdefault(kind, set()).add(writer)
    return out


def _replays(history: list[Any], workflow_id: str) -> None:
    seqs = [e.seq for e in history]
    assert seqs == list(range(1, len(seqs) + 1))
    assert aion.Replayer(WORKFLOWS, ACTIVITIES).replay(history, workflow_id).divergence is None


def test_a_lone_worker_releases_a_sleeping_workflow_and_reclaims_it_when_due(
    pg_url: str, admin: Any, workers: list[Worker]
) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    workers.append(Worker(_url(pg_url)))
    with aion.Client(pg_url, workflows=WORKFLOWS) as client:
        client.start(cluster_flows.sleeper, 4.0, workflow_id="s")
        until("s released", lambda: _released(admin, schema, "s"))
        assert client.result("s", timeout=30) == "rested"  # its only worker took it back
        history = client.history("s")
    _, _, epoch, status = _row(admin, schema, "s")
    assert status == "completed" and epoch == 2  # claimed, released, claimed again
    fired = next(e for e in history if isinstance(e, TimerFired))
    armed = next(e for e in history if isinstance(e, TimerStarted))
    assert fired.recorded_at >= armed.fire_at  # taken back when due, not before
    _replays(history, "s")


def test_a_released_workflow_is_claimed_by_another_worker_when_its_timer_is_due(
    pg_url: str, admin: Any, workers: list[Worker]
) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    url = _url(pg_url)
    workers.append(Worker(url))
    with aion.Client(pg_url, workflows=WORKFLOWS) as client:
        client.start(cluster_flows.sleeper, 5.0, workflow_id="s")
        until("s released", lambda: _released(admin, schema, "s"))
        first = _session_of(admin, schema, workers[0])
        workers.append(Worker(url))
        second = _session_of(admin, schema, workers[1])
        workers[0].stop()  # only the second worker is left to claim it
        assert _released(admin, schema, "s")  # not claimable before its timer is due
        assert client.result("s", timeout=30) == "rested"
        history = client.history("s")
    writers = _writers(admin, schema, "s")
    assert writers["TimerStarted"] == {first}
    assert writers["TimerFired"] == writers["WorkflowCompleted"] == {second}
    _replays(history, "s")


def test_a_client_signal_wakes_a_released_workflow_exactly_once(
    pg_url: str, admin: Any, workers: list[Worker]
) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    url = _url(pg_url)
    workers.extend([Worker(url), Worker(url)])
    with aion.Client(pg_url, workflows=WORKFLOWS) as client:
        client.start(cluster_flows.listener, workflow_id="l")
        until("l released", lambda: _released(admin, schema, "l"))
        client.signal("l", "wake", 5)
        assert client.result("l", timeout=30) == {"woken_by": 5}
        history = client.history("l")
    assert [e.payload for e in history if isinstance(e, SignalReceived)] == [5]
    assert admin.execute(f"SELECT count(*) FROM {schema}.inbox").fetchone() == (0,)
    assert _row(admin, schema, "l")[2] == 2  # claimed again for the message
    _replays(history, "l")


def test_nothing_is_released_while_its_activity_is_in_flight(
    pg_url: str, admin: Any, workers: list[Worker], tmp_path: Path
) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    workers.append(Worker(_url(pg_url)))
    gate = tmp_path / "go"
    with aion.Client(pg_url, workflows=WORKFLOWS) as client:
        client.start(cluster_flows.busy, str(gate), workflow_id="b")
        client.start(cluster_flows.listener, workflow_id="l")  # idle from the start
        until("l released", lambda: _released(admin, schema, "l"))
        # Sweeps ran past the idle period while b's activity was in flight: b stayed owned.
        owner, idle, epoch, status = _row(admin, schema, "b")
        assert owner is not None and not idle and (epoch, status) == (1, "running")
        gate.touch()
        assert client.result("b", timeout=30) == "done"
        assert _row(admin, schema, "b")[2] == 1  # never let go
        history = client.history("b")
    _replays(history, "b")


# --- in one process: engine.signal() and a child's end reach a released workflow ----------

release_kid = threading.Event()


@aion.activity
def held() -> str:
    assert release_kid.wait(60)
    return "kid done"


@aion.workflow
def worker_kid():  # type: ignore[no-untyped-def]
    return (yield aion.call(held))


@aion.workflow
def parent():  # type: ignore[no-untyped-def]
    got = yield aion.await_child(worker_kid, workflow_id="p/kid")
    return got


@aion.workflow
def waits():  # type: ignore[no-untyped-def]
    return (yield aion.receive_signal("wake"))


def test_in_process_signals_and_child_ends_reach_released_workflows(
    pg_url: str, admin: Any
) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    url = with_lease(_url(pg_url), 5)
    engine = aion.Engine(url, workflows=[parent, worker_kid, waits], activities=[held])
    stop = threading.Event()
    thread = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    thread.start()
    store: PostgresStore | None = None
    try:
        woken = engine.start(waits, workflow_id="w")
        told = engine.start(parent, workflow_id="p")
        until("w released", lambda: _released(admin, schema, "w"))
        until("p released", lambda: _released(admin, schema, "p"))
        assert not _released(admin, schema, "p/kid")  # its activity is in flight
        assert "w" not in engine._runtime.state.instances  # gone from memory too
        assert "p" not in engine._runtime.state.instances
        engine.signal("w", "wake", 9)  # routed through the inbox, then claimed again
        release_kid.set()  # the kid ends: its end is a message to its released parent
        assert woken.result(timeout=30) == 9  # the engine's own handles see them end
        assert told.result(timeout=30) == "kid done"
        store = open_store(pg_url)  # type: ignore[assignment]
        assert store is not None
        histories = {wid: store.history(wid) for wid in ("w", "p", "p/kid")}
    finally:
        stop.set()
        thread.join(30)
        engine.close()
        release_kid.clear()
        if store is not None:
            store.close()
    assert histories["w"][-1].result == 9  # type: ignore[attr-defined]
    assert sum(isinstance(e, SignalReceived) for e in histories["w"]) == 1
    end = histories["p"][-1]
    assert isinstance(end, WorkflowCompleted) and end.result == "kid done"
    assert admin.execute(f"SELECT count(*) FROM {schema}.inbox").fetchone() == (0,)
    replayer = aion.Replayer([parent, worker_kid, waits], [held])
    for wid, history in histories.items():
        assert replayer.replay(history, wid).divergence is None


def test_workflows_evicted_by_max_resident_are_released_too(pg_url: str, admin: Any) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    engine = aion.Engine(with_lease(_url(pg_url), 5), workflows=[waits], max_resident=1)
    stop = threading.Event()
    thread = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        handles = [engine.start(waits, workflow_id=w) for w in ("e1", "e2", "e3")]

        def evicted() -> int:
            with engine._runtime.cond:
                return sum(i.interp is None for i in engine._runtime.state.instances.values())

        until("two of them gave up their interpreter", lambda: evicted() == 2)
        for wid in ("e1", "e2", "e3"):
            until(f"{wid} released", lambda w=wid: _released(admin, schema, w))
        for number, (wid, handle) in enumerate(zip(("e1", "e2", "e3"), handles, strict=True)):
            engine.signal(wid, "wake", number)
            assert handle.result(timeout=30) == number
    finally:
        stop.set()
        thread.join(30)
        engine.close()
