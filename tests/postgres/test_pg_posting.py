"""A batch that only posts inbox messages, through a connection lost at COMMIT: posted once.

An in-process ``engine.signal`` to a workflow another worker owns is a batch
with nothing of the session's own: its only trace is the inbox row. It
carries a ``posted`` marker key, so after the connection dies at COMMIT the
session reconnects, waits for the old server process to end, and the key
decides: landed (done) or not (posted again, under a new key).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

import aion
from aion._cluster._session import session_on
from aion._events import SignalReceived
from aion.store import PostgresStore, open_store
from aion.store._postgres_url import split_schema
from tests.postgres.cutting_proxy import Proxy
from tests.postgres.helpers import until


@aion.workflow
def waiter():  # type: ignore[no-untyped-def]
    got = yield aion.receive_signal("hello")
    return got


class Cut(PostgresStore):
    """Connects through ``proxy``; when armed, the next COMMIT lands but its answer is lost."""

    proxy: Proxy
    armed = False

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        info.update(host="127.0.0.1", port=str(self.proxy.port))
        return psycopg.connect(**info, autocommit=True, application_name="aion")  # type: ignore[arg-type]

    def _before_commit(self) -> None:
        if self.armed:
            self.armed = False
            self.proxy.cut_next_answer()


class Drops(PostgresStore):
    """When armed, its backend is terminated just before COMMIT (the transaction is lost)."""

    armed = False

    def _before_commit(self) -> None:
        if self.armed:
            self.armed = False
            pid = self._conn.info.backend_pid
            with psycopg.connect(self.dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def _owned_elsewhere(pg_url: str) -> tuple[PostgresStore, Any]:
    """Workflow ``a`` (a waiter) started by a client and owned by another live session."""
    with aion.Client(pg_url, workflows=[waiter]) as client:
        client.start(waiter, workflow_id="a")
    other = open_store(pg_url)
    assert isinstance(other, PostgresStore)
    theirs = other.register_session(workflow_types=["waiter"], lease_seconds=30)
    assert [c.workflow_id for c in other.claim(theirs)] == ["a"]
    return other, theirs


def _finish(engine: aion.Engine, other: PostgresStore, theirs: Any) -> list[Any]:
    """Let the other session go; ``engine`` serves ``a`` to its end; its history."""
    other.end_session(theirs)
    stop = threading.Event()
    thread = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        until("a completed", lambda: (i := other.info("a")) is not None and i.status == "completed")
    finally:
        stop.set()
        thread.join(30)
    return other.history("a")


@pytest.mark.parametrize("landed", [True, False], ids=["commit-landed", "commit-lost"])
def test_a_post_only_batch_cut_at_commit_is_posted_exactly_once(
    pg_url: str, admin: Any, landed: bool
) -> None:
    other, theirs = _owned_elsewhere(pg_url)
    dsn, schema = split_schema(pg_url)
    proxy: Proxy | None = None
    pg: Cut | Drops
    if landed:
        parts = urlsplit(dsn)
        proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        Cut.proxy = proxy
        pg = Cut(dsn, schema=schema)
    else:
        pg = Drops(dsn, schema=schema)
    store = session_on(pg, ["waiter"], 30.0)
    engine = aion.Engine(store=store, workflows=[waiter])  # recovers only what it claimed
    try:
        old_backend = pg.backend
        pg.armed = True
        engine.signal("a", "hello", 7)  # the whole batch: one post to another session's workflow
        assert not pg.armed
        assert pg.backend != old_backend  # the connection really was lost and replaced
        if proxy is not None:
            assert proxy.cuts == 1  # the COMMIT's answer was dropped after it committed
        rows = admin.execute(f"SELECT workflow_id, kind FROM {schema}.inbox").fetchall()
        assert rows == [("a", "signal")]
        markers = admin.execute(f"SELECT count(*) FROM {schema}.posted").fetchone()
        assert markers == (1,)  # only the attempt that committed left its key
        assert not store.lost
        history = _finish(engine, other, theirs)
    finally:
        engine.close()
        store.close()
        other.close()
        if proxy is not None:
            proxy.close()
    assert sum(isinstance(e, SignalReceived) for e in history) == 1
    assert history[-1].result == 7  # type: ignore[attr-defined]
    assert aion.Replayer([waiter]).replay(history, "a").divergence is None


def test_old_markers_are_purged_when_a_session_registers(store: PostgresStore, admin: Any) -> None:
    s = store.schema
    admin.execute(
        f"INSERT INTO {s}.posted (batch_key, posted_at) VALUES "
        "('old', clock_timestamp() - interval '2 hours'), ('new', clock_timestamp())"
    )
    store.register_session(workflow_types=["waiter"])
    assert admin.execute(f"SELECT batch_key FROM {s}.posted").fetchall() == [("new",)]
    assert store.posted("new") and not store.posted("old")


def test_judging_waits_for_the_old_backend_and_ends_one_that_lingers(
    store: PostgresStore, pg_url: str
) -> None:
    dsn, schema = split_schema(pg_url)
    lingering = PostgresStore(dsn, schema=schema)  # stands for a backend still running a COMMIT
    pid, started = lingering.backend
    assert started is not None
    try:
        later = started.replace(year=started.year + 1)
        # Same pid, another start: a later process the server gave that pid; never touched.
        assert store.wait_backend_gone((pid, later), limit=0.2)
        assert lingering.info("x") is None  # still alive
        assert store.wait_backend_gone((pid, started), limit=4.0)  # ended at half the limit
        with pytest.raises(aion.StoreInvalidatedError):
            lingering.info("x")
    finally:
        lingering.close()
