"""Routed appends: what a worker writes into another session's workflow becomes its mail.

Checked on the store alone (no engine): the routed events leave as inbox
rows in the writer's transaction, a child's end posts to a parent owned
elsewhere, a non-routable event for a foreign workflow refuses the whole
batch, and the COMMIT notifies the listeners once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aion._events import CancelRequested, WorkflowCompleted, WorkflowStarted
from aion.store import Append, Fence, FencedError, PostgresStore, open_store
from aion.store._postgres_notify import Listener, closed_channel, work_channel
from tests.postgres.helpers import T0, sig, started


def _child(seq: int = 1) -> WorkflowStarted:
    return WorkflowStarted(
        seq=seq, run_id="r1", recorded_at=T0, name="flow", args=[], parent_id="p"
    )


def test_events_for_foreign_workflows_become_inbox_rows(store: PostgresStore, pg_url: str) -> None:
    store.append(
        [Append(workflow_id=w, expected_seq=0, events=[started()]) for w in ("mine", "theirs")]
    )
    other = open_store(pg_url)
    assert isinstance(other, PostgresStore)
    a = store.register_session(workflow_types=["flow"], lease_seconds=5)
    b = other.register_session(workflow_types=["flow"], lease_seconds=5)
    mine = store.claim(a, limit=1)
    theirs = other.claim(b)
    assert [c.workflow_id for c in mine + theirs] == ["mine", "theirs"]
    listener = Listener(store.dsn, work_channel(store.schema))
    posts = store.append_routed(
        [
            Append(workflow_id="mine", expected_seq=1, events=[sig(2, "own")]),
            Append(workflow_id="theirs", expected_seq=1, events=[sig(2, "hello", 7)]),
            Append(
                workflow_id="theirs",
                expected_seq=2,
                events=[CancelRequested(seq=3, run_id="r1", recorded_at=T0, reason="why")],
            ),
        ],
        fence=Fence.of(a, mine),
    )
    assert [(p.workflow_id, p.kind) for p in posts] == [("theirs", "signal"), ("theirs", "cancel")]
    assert listener.wait(5.0)  # one notification for the whole batch, after COMMIT
    assert not listener.wait(0.2)
    listener.close()
    assert [e.seq for e in store.history("theirs")] == [1]  # nothing written into their history
    assert [(m.kind, m.payload) for m in other.inbox(["theirs"])] == [
        ("signal", '{"name":"hello","payload":7,"sender":null}'),
        ("cancel", '{"reason":"why"}'),
    ]
    assert [e.seq for e in store.history("mine")] == [1, 2]
    with pytest.raises(FencedError, match="'theirs' belongs to session"):
        store.append_routed(
            [Append(workflow_id="theirs", expected_seq=1, events=[started()])],
            fence=Fence.of(a, mine),
        )
    other.close()


def test_a_child_ending_tells_a_parent_owned_elsewhere(store: PostgresStore, pg_url: str) -> None:
    store.append([Append(workflow_id="p", expected_seq=0, events=[started()])])
    other = open_store(pg_url)
    assert isinstance(other, PostgresStore)
    b = other.register_session(workflow_types=["flow"], lease_seconds=5)
    assert [c.workflow_id for c in other.claim(b)] == ["p"]
    a = store.register_session(workflow_types=["flow"], lease_seconds=5)
    closed = Listener(store.dsn, closed_channel(store.schema))
    fence = Fence.of(a, [])
    store.append_routed([Append(workflow_id="k", expected_seq=0, events=[_child()])], fence=fence)
    assert not closed.wait(0.2)
    end = WorkflowCompleted(seq=2, run_id="r1", recorded_at=datetime.now(UTC), result=1)
    created = Fence(session_id=a.session_id, epochs={"k": 1})  # a creation is epoch 1
    posts = store.append_routed(
        [Append(workflow_id="k", expected_seq=1, events=[end])], fence=created
    )
    assert [(p.workflow_id, p.kind, p.payload) for p in posts] == [
        ("p", "child", '{"child_id":"k"}')
    ]
    assert closed.wait(5.0)
    closed.close()
    other.close()


def test_a_listener_whose_connection_is_killed_reconnects(store: PostgresStore, admin: Any) -> None:
    listener = Listener(store.dsn, work_channel(store.schema))
    pids = [
        r[0]
        for r in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'aion-listen'"
        ).fetchall()
    ]
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert not listener.wait(1.0)  # the loss is noticed (and the connection dropped) ...
    assert not listener.wait(0.1)  # ... then made again
    admin.execute("SELECT pg_notify(%s, '')", [work_channel(store.schema)])
    assert listener.wait(5.0)
    listener.close()
