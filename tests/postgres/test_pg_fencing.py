"""Worker sessions on PostgreSQL: leases, SKIP LOCKED claims, takeover and fenced appends.

Leases run on the database clock, so the tests wait for the database to say a
lease has run out (never a local sleep), and a paused owner is a real process
stopped with SIGSTOP inside its transaction.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from typing import Any

import pytest

import aion
from aion._events import TimerStarted
from aion.store import Append, FencedError, LeaseExpired, PostgresStore, open_store
from tests.postgres.helpers import T0, backend_gone, read, sig, spawn, started, until

# --- ownership and fencing ---------------------------------------------------------------


def db_now_past(admin: Any, schema: str, session_id: int) -> bool:
    return bool(
        admin.execute(
            f"SELECT lease_until < clock_timestamp() FROM {schema}.sessions WHERE session_id = %s",
            [session_id],
        ).fetchone()[0]
    )


def test_claims_take_only_registered_types_and_never_a_live_owners(
    store: PostgresStore, pg_url: str
) -> None:
    store.append(
        [
            Append(workflow_id="f", expected_seq=0, events=[started("flow")]),
            Append(workflow_id="o", expected_seq=0, events=[started("other")]),
        ]
    )
    a = store.register_session(workflow_types=["flow"])
    claims = store.claim(a)
    assert [(c.workflow_id, c.epoch, c.last_seq) for c in claims] == [("f", 1, 1)]
    second = open_store(pg_url)
    assert isinstance(second, PostgresStore)
    try:
        b = second.register_session(workflow_types=["flow", "other"])
        assert [c.workflow_id for c in second.claim(b)] == ["o"]  # f has a live owner
        assert second.claim(b) == []
        store.heartbeat(a)
        # An unfenced writer may not touch a live session's workflow.
        with pytest.raises(FencedError, match="'f' is owned by worker session"):
            second.append([Append(workflow_id="f", expected_seq=1, events=[sig(2)])])
        store.release(a, ["f"], idle=True)
        assert second.claim(b) == []  # idle, no due timer, no message
        store.post("f", "signal", '{"x":1}')
        assert [(c.workflow_id, c.epoch) for c in second.claim(b)] == [("f", 2)]
        [message] = second.inbox(["f"])
        assert (message.kind, message.payload) == ("signal", '{"x":1}')
        fence = aion.store.Fence(session_id=b.session_id, epochs={"f": 2})
        second.append(
            [Append(workflow_id="f", expected_seq=1, events=[sig(2, payload={"x": 1})])],
            fence=fence,
            consume=[message.message_id],
        )
        assert second.inbox(["f"]) == []
        second.end_session(b)
        assert [c.workflow_id for c in store.claim(a)] == ["f"]  # "other" is not its type
    finally:
        second.close()


def test_a_released_idle_workflow_is_claimable_when_its_timer_is_due(
    store: PostgresStore, admin: Any
) -> None:
    db_now = admin.execute("SELECT clock_timestamp()").fetchone()[0]
    for workflow_id, fire_at in (
        ("due", db_now - timedelta(seconds=1)),
        ("later", db_now + timedelta(hours=1)),
    ):
        timer = TimerStarted(
            seq=2, run_id="r1", recorded_at=T0, ordinal=1, fire_at=fire_at, seconds=1.0
        )
        store.append([Append(workflow_id=workflow_id, expected_seq=0, events=[started(), timer])])
    a = store.register_session(workflow_types=["flow"])
    assert [c.workflow_id for c in store.claim(a)] == ["due", "later"]  # never released: both
    store.release(a, ["due", "later"], idle=True)
    assert [(c.workflow_id, c.epoch) for c in store.claim(a)] == [("due", 2)]
    store.release(a, ["due"], idle=False)  # released with work left: claimable at once
    assert [(c.workflow_id, c.epoch) for c in store.claim(a)] == [("due", 3)]


def test_a_taken_over_owner_is_fenced_and_writes_nothing(
    store: PostgresStore, pg_url: str, admin: Any
) -> None:
    store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    old = store.register_session(workflow_types=["flow"], lease_seconds=0.5)
    old_fence = aion.store.Fence.of(old, store.claim(old))
    head = store.info("w").last_seq  # type: ignore[union-attr]  # the old owner reads...
    until(
        "the old lease run out on the database clock",
        lambda: db_now_past(admin, store.schema, old.session_id),
    )
    new_store = open_store(pg_url)
    assert isinstance(new_store, PostgresStore)
    try:
        new = new_store.register_session(workflow_types=["flow"])
        claims = new_store.claim(new)
        assert [(c.workflow_id, c.epoch) for c in claims] == [("w", 2)]
        # ... and writes after the takeover: refused, nothing written.
        with pytest.raises(FencedError, match="lease has expired"):
            store.append(
                [Append(workflow_id="w", expected_seq=head, events=[sig(2, "old")])],
                fence=old_fence,
            )
        with pytest.raises(LeaseExpired, match="let its lease run out"):
            store.heartbeat(old)
        with pytest.raises(LeaseExpired):
            store.claim(old)
        assert store.history("w") == [started()]
        # A live session presenting a stale epoch is fenced too.
        third = store.register_session(workflow_types=["flow"])
        with pytest.raises(FencedError, match="was taken over"):
            store.append(
                [Append(workflow_id="w", expected_seq=1, events=[sig(2, "third")])],
                fence=aion.store.Fence(session_id=third.session_id, epochs={"w": 2}),
            )
        new_store.append(
            [Append(workflow_id="w", expected_seq=1, events=[sig(2, "new")])],
            fence=aion.store.Fence.of(new, claims),
        )
    finally:
        new_store.close()
    assert [getattr(e, "name", None) for e in store.history("w")] == ["flow", "new"]


def test_an_owner_stopped_inside_its_commit_past_the_lease_never_writes(
    store: PostgresStore, pg_url: str, admin: Any
) -> None:
    store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    old = spawn("stop", pg_url)
    try:
        claimed = read(old)
        assert (claimed["ids"], claimed["epochs"]) == (["w"], [1])
        stopping = read(old)
        assert stopping["state"] == "stopping"
        _, status = os.waitpid(old.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        session_id = admin.execute(
            f"SELECT max(session_id) FROM {store.schema}.sessions"
        ).fetchone()[0]
        new = store.register_session(workflow_types=["flow"])
        # While the stopped owner's transaction holds the row, nobody can take it.
        assert store.claim(new) == []
        until("the old lease run out", lambda: db_now_past(admin, store.schema, session_id))
        # idle_in_transaction_session_timeout (half the lease) ends the stopped transaction.
        until("the stopped owner's backend ended", lambda: backend_gone(admin, stopping["pid"]))
        claims = store.claim(new)
        assert [(c.workflow_id, c.epoch) for c in claims] == [("w", 2)]
        store.append(
            [Append(workflow_id="w", expected_seq=1, events=[sig(2, "new-owner")])],
            fence=aion.store.Fence.of(new, claims),
        )
        os.kill(old.pid, signal.SIGCONT)
        done = read(old)
    finally:
        if old.poll() is None:
            os.kill(old.pid, signal.SIGCONT)
        old.wait(timeout=60)
    assert done == {"state": "done", "first": "StoreInvalidatedError", "retry": "FencedError"}
    assert [getattr(e, "name", None) for e in store.history("w")] == ["flow", "new-owner"]


def test_claims_from_several_processes_never_double_claim(store: PostgresStore) -> None:
    ids = [f"w{i:03d}" for i in range(120)]
    store.append([Append(workflow_id=w, expected_seq=0, events=[started()]) for w in ids])
    url = f"{store.dsn}{'&' if '?' in store.dsn else '?'}aion_schema={store.schema}"
    procs = [spawn("claim", url) for _ in range(4)]
    got = []
    for proc in procs:
        got.append(read(proc)["ids"])
        proc.wait(timeout=60)
    flat = [w for ids_ in got for w in ids_]
    assert sorted(flat) == ids  # every workflow claimed, none twice
    epochs = {r.workflow_id for r in store.workflows()}
    assert epochs == set(ids)


def test_a_fenced_append_owns_what_it_creates_and_nothing_it_did_not_claim(
    store: PostgresStore,
) -> None:
    store.append([Append(workflow_id="other", expected_seq=0, events=[started()])])
    a = store.register_session(workflow_types=["flow"])
    fence = aion.store.Fence(session_id=a.session_id)
    store.append([Append(workflow_id="child", expected_seq=0, events=[started()])], fence=fence)
    b = store.register_session(workflow_types=["flow"])
    assert [c.workflow_id for c in store.claim(b)] == ["other"]  # child is a's (epoch 1)
    with pytest.raises(FencedError, match="'child' is owned by worker session"):
        store.append([Append(workflow_id="child", expected_seq=1, events=[sig(2)])])
    store.append(
        [Append(workflow_id="child", expected_seq=1, events=[sig(2)])],
        fence=aion.store.Fence(session_id=a.session_id, epochs={"child": 1}),
    )
    with pytest.raises(FencedError, match="'other' was taken over"):
        store.append(
            [Append(workflow_id="other", expected_seq=1, events=[sig(2)])],
            fence=aion.store.Fence(session_id=a.session_id, epochs={"other": 1}),
        )
    assert [e.seq for e in store.history("child")] == [1, 2]
    assert store.history("other") == [started()]
