"""`FencedStore` through a lost connection: a routed batch is judged by what the session wrote.

The engine's own check after a lost connection compares every head of the
batch, but a routed workflow's head never moves (its events became inbox
rows), so the fenced store judges by its own workflows' heads.
"""

from __future__ import annotations

from typing import Any

import psycopg

from aion._cluster._fenced import FencedStore
from aion._engine._commit import commit
from aion._errors import StoreInvalidatedError
from aion.store import Append, PostgresStore, open_store
from aion.store._postgres_url import split_schema
from tests.postgres.helpers import sig, started


class DropsOnce(PostgresStore):
    """Its backend is terminated just before the first COMMIT (the transaction is lost)."""

    armed = False

    def _before_commit(self) -> None:
        if self.armed:
            self.armed = False
            pid = self._conn.info.backend_pid
            with psycopg.connect(self.dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_routed_batch_lost_before_commit_is_written_once(pg_url: str, admin: Any) -> None:
    other = open_store(pg_url)
    assert isinstance(other, PostgresStore)
    other.append([Append(workflow_id=w, expected_seq=0, events=[started()]) for w in "ab"])
    theirs = other.register_session(workflow_types=["flow"], lease_seconds=30)
    other.claim(theirs)  # owns a and b
    dsn, schema = split_schema(pg_url)
    pg = DropsOnce(dsn, schema=schema)
    session = pg.register_session(workflow_types=["flow"], lease_seconds=30)
    store = FencedStore(pg, session, [])
    pg.append_routed(  # "mine" is the session's own (created by it)
        [Append(workflow_id="mine", expected_seq=0, events=[started()])],
        fence=store.fence(),
    )
    store.epochs["mine"] = 1
    pg.armed = True
    batch = [
        Append(workflow_id="mine", expected_seq=1, events=[sig(2, "own")]),
        Append(workflow_id="a", expected_seq=1, events=[sig(2, "hello", 1)]),
    ]
    commit(store, batch)  # lost once, judged not landed, tried again: recorded once
    assert not pg.armed
    assert [e.seq for e in pg.history("mine")] == [1, 2]
    rows = admin.execute(f"SELECT workflow_id, kind FROM {schema}.inbox").fetchall()
    assert rows == [("a", "signal")]
    assert not store.lost
    store.close()
    other.close()


class LosesTheAnswerOnce(PostgresStore):
    """The first routed append commits, then reports a lost connection (the answer never came)."""

    armed = False

    def append_routed(
        self, batch: Any, *, fence: Any, consume: Any = (), marker: Any = None
    ) -> Any:
        posts = super().append_routed(batch, fence=fence, consume=consume, marker=marker)
        if self.armed:
            self.armed = False
            self._conn.close()
            raise StoreInvalidatedError("the connection was lost during COMMIT (simulated).")
        return posts


def test_a_routed_batch_that_committed_unheard_is_not_written_again(
    pg_url: str, admin: Any
) -> None:
    other = open_store(pg_url)
    assert isinstance(other, PostgresStore)
    other.append([Append(workflow_id="a", expected_seq=0, events=[started()])])
    other.claim(other.register_session(workflow_types=["flow"], lease_seconds=30))
    dsn, schema = split_schema(pg_url)
    pg = LosesTheAnswerOnce(dsn, schema=schema)
    store = FencedStore(pg, pg.register_session(workflow_types=["flow"], lease_seconds=30), [])
    store.append([Append(workflow_id="mine", expected_seq=0, events=[started()])])
    assert store.owns("mine")
    pg.armed = True
    commit(
        store,
        [
            Append(workflow_id="mine", expected_seq=1, events=[sig(2, "own")]),
            Append(workflow_id="a", expected_seq=1, events=[sig(2, "hello", 1)]),
        ],
    )
    assert not pg.armed
    assert [e.seq for e in pg.history("mine")] == [1, 2]
    rows = admin.execute(f"SELECT workflow_id, kind FROM {schema}.inbox").fetchall()
    assert rows == [("a", "signal")]  # posted once: the batch was judged landed
    store.close()
    other.close()
