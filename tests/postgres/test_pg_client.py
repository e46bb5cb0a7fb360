"""`aion.Client` on PostgreSQL: direct transactions, no worker inside the client."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import aion
from aion._cluster import ClusterWorker
from aion.events import WorkflowCancelled
from aion.store import PostgresStore, open_store
from tests.postgres.cluster_flows import ACTIVITIES, WORKFLOWS, expected, order
from tests.postgres.helpers import until


def test_starts_and_signals_are_rows_a_worker_picks_up(pg_url: str) -> None:
    client = aion.Client(pg_url, workflows=[order])
    with pytest.raises(aion.WorkflowArgumentError, match="cannot start workflow 'order'"):
        client.start(order)
    assert client.list() == []  # a refused start records nothing
    assert client.start(order, "w", 3, 1, workflow_id="w") == "w"
    with pytest.raises(aion.WorkflowAlreadyExists, match="'w' already exists"):
        client.start(order, "w", 3, 1, workflow_id="w")
    client.signal("w", "bonus", 4)  # early: buffered in the inbox until a worker owns it
    with pytest.raises(aion.WorkflowNotFound):
        client.signal("nobody", "bonus", 1)
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    assert [(m.kind, m.payload) for m in store.inbox(["w"])] == [
        ("signal", '{"name":"bonus","payload":4,"sender":null}')
    ]
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.2s"):
        client.result("w", timeout=0.2)
    stop = threading.Event()
    worker = ClusterWorker(pg_url, workflows=WORKFLOWS, activities=ACTIVITIES, lease_seconds=3)
    thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        assert client.result("w", timeout=30) == expected(3, 1, 4)
    finally:
        stop.set()
        thread.join(10)
    assert store.inbox(["w"]) == []  # consumed with the event that recorded it
    bonuses = [e for e in client.history("w") if type(e).__name__ == "SignalReceived"]
    assert [(e.name, e.payload) for e in bonuses] == [("bonus", 4), ("thanks", 1)]
    assert client.describe("w").status == "completed"
    assert client.describe("w/kid").parent_id == "w"
    with pytest.raises(aion.WorkflowClosed, match="is completed and cannot take a cancel"):
        client.cancel("w")
    store.close()
    client.close()


def test_a_start_by_name_is_recorded_as_given_and_queries_need_the_code(pg_url: str) -> None:
    with aion.Client(pg_url) as client:
        client.start("order", "q", 1, 1, workflow_id="q")
        info = client.list(workflow_type="order")[0]
        assert (info.workflow_id, info.status) == ("q", "running")
        with pytest.raises(aion.NotRegisteredError, match=r"pass Client\(\.\.\., workflows="):
            client.query("q", "anything")


def test_cancel_reaches_the_owner_and_the_result_raises(pg_url: str) -> None:
    client = aion.Client(pg_url, workflows=[order])
    stop = threading.Event()
    worker = ClusterWorker(pg_url, workflows=WORKFLOWS, activities=ACTIVITIES, lease_seconds=3)
    thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        client.start(order, "c", 1, 1, workflow_id="c")
        until("c waits for its bonus", lambda: _waits(client, "c", "bonus"))
        client.cancel("c", "changed my mind")
        with pytest.raises(aion.WorkflowCancelledError, match="changed my mind"):
            client.result("c", timeout=30)
    finally:
        stop.set()
        thread.join(10)
    client.close()


def _waits(client: Any, workflow_id: str, signal: str) -> bool:
    return any(signal in line for line in client.describe(workflow_id).pending)


def test_terminate_reaches_the_owner_through_the_inbox(pg_url: str) -> None:
    client = aion.Client(pg_url, workflows=[order])
    stop = threading.Event()
    worker = ClusterWorker(pg_url, workflows=WORKFLOWS, activities=ACTIVITIES, lease_seconds=3)
    thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        client.start(order, "t", 1, 1, workflow_id="t")
        until("t waits for its bonus", lambda: _waits(client, "t", "bonus"))
        client.terminate("t", "ops said stop")
        with pytest.raises(aion.WorkflowCancelledError, match="terminated: ops said stop"):
            client.result("t", timeout=30)
        with pytest.raises(aion.WorkflowClosed):
            client.terminate("t")
    finally:
        stop.set()
        thread.join(10)
    history = client.history("t")
    client.close()
    end = history[-1]
    assert isinstance(end, WorkflowCancelled) and end.terminated
    assert end.reason == "ops said stop"
    assert aion.replay(order, history).ok
