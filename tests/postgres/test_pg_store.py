"""PostgreSQL-only store cases: exact bytes, racing writers, a killed COMMIT, schemas.

Every case uses real parts: a second process or connection, pg_terminate_backend,
SIGKILL. Waits are on observed state (pg_stat_activity), never on a sleep that hopes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

import aion
from aion import _codec
from aion._cluster._fenced import FencedStore
from aion._engine._commit import commit, landed
from aion.store import Append, PostgresStore, open_store
from aion.store._postgres_url import split_schema
from tests.postgres.helpers import backend_gone, read, sig, spawn, started, until


def test_payload_text_round_trips_exactly(store: PostgresStore, admin: Any) -> None:
    event = sig(2, payload={"zeta": [1, 2.5, "é\u0000"], "alpha": {"b": None, "a": True}})
    store.append([Append(workflow_id="w", expected_seq=0, events=[started(), event])])
    raw = admin.execute(
        f"SELECT payload::text FROM {store.schema}.events WHERE workflow_id = 'w' AND seq = 2"
    ).fetchone()[0]
    assert raw == _codec.event_payload(event)
    assert store.history("w")[1] == event
    # The column keeps text that is not canonical too: order and duplicate keys (jsonb would not).
    odd = '{"b": 1,  "a": 2, "a": 3}'
    admin.execute(
        f"INSERT INTO {store.schema}.events VALUES ('x', 1, 'r', 'SignalReceived', NULL, 's', "
        "%s, now(), NULL, NULL)",
        [odd],
    )
    back = admin.execute(f"SELECT payload::text, payload::jsonb::text FROM {store.schema}.events "
                         "WHERE workflow_id = 'x'").fetchone()  # fmt: skip
    assert back[0] == odd
    assert back[1] != odd


def test_two_writers_on_the_same_seq_exactly_one_wins(
    store: PostgresStore, pg_url: str, admin: Any
) -> None:
    store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    holder = spawn("hold", pg_url)
    try:
        assert read(holder)["state"] == "holding"  # its transaction holds the row lock now
        outcome: list[BaseException | None] = []

        def second() -> None:
            try:
                store.append([Append(workflow_id="w", expected_seq=1, events=[sig(2, "second")])])
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        mine = store._conn.info.backend_pid
        until(
            "the second writer waiting on the first one's row lock",
            lambda: (
                admin.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [mine]
                ).fetchone()[0]
                == "Lock"
            ),
        )
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert read(holder) == {"state": "done", "outcome": "ok"}
        thread.join()
    finally:
        holder.wait(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], aion.SequenceConflict)
    assert (outcome[0].expected, outcome[0].found) == (1, 2)
    assert [e.name for e in store.history("w")[1:]] == ["holder"]  # type: ignore[attr-defined]


def install_commit_gate(admin: Any, s: str) -> None:
    """Make every COMMIT that inserted events wait while the test holds advisory lock 4242.

    A deferred constraint trigger runs inside COMMIT, so a writer seen waiting
    there is provably mid-COMMIT when the test kills it.
    """
    admin.execute(
        f"CREATE FUNCTION {s}.wait_gate() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NULL; END $$"
    )
    admin.execute(
        f"CREATE CONSTRAINT TRIGGER gate AFTER INSERT ON {s}.events DEFERRABLE INITIALLY "
        f"DEFERRED FOR EACH ROW EXECUTE FUNCTION {s}.wait_gate()"
    )


def in_commit(admin: Any, pid: int) -> bool:
    row = admin.execute(
        "SELECT query, wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
    ).fetchone()
    return row == ("COMMIT", "Lock")


def test_a_writer_process_sigkilled_inside_commit_leaves_all_or_nothing(
    store: PostgresStore, pg_url: str, admin: Any
) -> None:
    s = store.schema
    store.append([Append(workflow_id=w, expected_seq=0, events=[started()]) for w in "ab"])
    install_commit_gate(admin, s)
    admin.execute("SELECT pg_advisory_lock(4242)")
    writer = spawn("gate", pg_url)
    pid = read(writer)["pid"]
    until("the writer process blocked inside COMMIT", lambda: in_commit(admin, pid))
    writer.kill()  # SIGKILL: the client is gone; its backend is still inside COMMIT
    assert writer.wait(timeout=30) == -signal.SIGKILL
    admin.execute("SELECT pg_advisory_unlock(4242)")
    until("the dead writer's backend gone", lambda: backend_gone(admin, pid))
    heads = dict(admin.execute(f"SELECT workflow_id, last_seq FROM {s}.workflows").fetchall())
    events = admin.execute(f"SELECT count(*) FROM {s}.events").fetchone()[0]
    # All or nothing (with the server's default client_connection_check_interval = 0 the
    # backend never notices its client died, so the COMMIT completes: all).
    assert (heads, events) in [({"a": 1, "b": 1}, 2), ({"a": 3, "b": 2}, 5)]
    batch = [
        Append(workflow_id="a", expected_seq=1, events=[sig(2), sig(3)]),
        Append(workflow_id="b", expected_seq=1, events=[sig(2)]),
    ]
    assert landed(store, batch) == (events == 5)


def test_a_writer_process_sigkilled_mid_stream_never_leaves_a_partial_batch(
    store: PostgresStore, pg_url: str, admin: Any
) -> None:
    store.append([Append(workflow_id=w, expected_seq=0, events=[started()]) for w in "abc"])
    writer = spawn("loop", pg_url)
    try:
        while read(writer)["batches"] < 25:
            pass
    finally:
        writer.kill()
        writer.wait(timeout=30)
    heads = {w: store.info(w).last_seq for w in "abc"}  # type: ignore[union-attr]
    assert len(set(heads.values())) == 1 and heads["a"] >= 26, heads
    for w in "abc":
        assert [e.seq for e in store.history(w)] == list(range(1, heads[w] + 1))


def test_a_connection_killed_during_commit_leaves_all_or_nothing(
    store: PostgresStore, admin: Any
) -> None:
    s = store.schema
    store.append([Append(workflow_id=w, expected_seq=0, events=[started()]) for w in "ab"])
    install_commit_gate(admin, s)
    admin.execute("SELECT pg_advisory_lock(4242)")
    batch = [
        Append(workflow_id="a", expected_seq=1, events=[sig(2), sig(3)]),
        Append(workflow_id="b", expected_seq=1, events=[sig(2)]),
    ]
    errors: list[BaseException] = []
    writer = threading.Thread(target=lambda: _catch(errors, lambda: commit(store, batch)))
    first_pid = store._conn.info.backend_pid
    writer.start()
    until(
        "the writer blocked inside COMMIT",
        lambda: (
            admin.execute(
                "SELECT query, wait_event_type FROM pg_stat_activity WHERE pid = %s", [first_pid]
            ).fetchone()
            == ("COMMIT", "Lock")
        ),
    )
    assert admin.execute("SELECT pg_terminate_backend(%s)", [first_pid]).fetchone()[0]
    until("the killed backend gone", lambda: backend_gone(admin, first_pid))
    # Nothing of the killed transaction is visible: neither workflow moved.
    heads = admin.execute(f"SELECT workflow_id, last_seq FROM {s}.workflows ORDER BY 1").fetchall()
    assert heads == [("a", 1), ("b", 1)]
    assert admin.execute(f"SELECT count(*) FROM {s}.events").fetchone()[0] == 2
    admin.execute("SELECT pg_advisory_unlock(4242)")
    writer.join(timeout=60)
    assert errors == []  # commit() reconnected, saw the batch absent, and appended it once
    assert store._conn.info.backend_pid != first_pid
    assert [e.seq for e in store.history("a")] == [1, 2, 3]
    assert [e.seq for e in store.history("b")] == [1, 2]


def _catch(errors: list[BaseException], fn: Callable[[], object]) -> None:
    try:
        fn()
    except BaseException as exc:
        errors.append(exc)


def test_a_lost_connection_is_a_typed_error(store: PostgresStore, admin: Any) -> None:
    admin.execute("SELECT pg_terminate_backend(%s)", [store._conn.info.backend_pid])
    with pytest.raises(aion.StoreInvalidatedError, match="the connection to PostgreSQL was lost"):
        store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    store.reopen()
    store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    assert store.history("w") == [started()]


def test_foreign_and_newer_schemas_are_refused(pg_database: str, admin: Any) -> None:
    admin.execute("CREATE SCHEMA shop")
    admin.execute("CREATE TABLE shop.orders (id int)")
    with pytest.raises(aion.ForeignStoreError, match=r"'shop' is not an aion store \(it holds "):
        open_store(f"{pg_database}?aion_schema=shop")
    assert admin.execute(
        "SELECT array_agg(tablename) FROM pg_tables WHERE schemaname = 'shop'"
    ).fetchone()[0] == ["orders"]  # fmt: skip
    dsn, _ = split_schema(pg_database)
    PostgresStore(dsn, schema="later").close()
    admin.execute("UPDATE later.meta SET value = '4' WHERE key = 'schema_version'")
    with pytest.raises(aion.ForeignStoreError, match=r"newer aion \(schema version 4"):
        PostgresStore(dsn, schema="later")
    with pytest.raises(aion.StoreError, match="schema name 'Bad-Name' is not usable"):
        PostgresStore(dsn, schema="Bad-Name")
    with pytest.raises(aion.StoreError, match="cannot connect to PostgreSQL at") as err:
        PostgresStore("postgresql://postgres:secret@127.0.0.1:1/x?connect_timeout=2")
    assert "secret" not in str(err.value) and "postgres:***@127.0.0.1:1" in str(err.value)


def test_read_only_opens_create_nothing_and_refuse_appends(pg_url: str, admin: Any) -> None:
    schema = split_schema(pg_url)[1]
    reader = open_store(pg_url, read_only=True)
    assert isinstance(reader, PostgresStore) and not reader.exists
    assert reader.workflows() == [] and reader.history("w") == [] and reader.info("w") is None
    assert (
        admin.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()[
            0
        ]
        == 0
    )
    reader.close()
    open_store(pg_url).close()
    reader = open_store(pg_url, read_only=True)
    try:
        with pytest.raises(aion.StoreError, match="is open read-only"):
            reader.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    finally:
        reader.close()


def test_postgres_scheme_alias_opens_the_same_store(pg_url: str) -> None:
    with aion.Engine(pg_url.replace("postgresql://", "postgres://", 1)) as engine:
        assert isinstance(engine.store, FencedStore) and isinstance(engine.store.pg, PostgresStore)
        engine.store.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    again = open_store(pg_url)
    try:
        assert again.history("w") == [started()]
    finally:
        again.close()


def test_aion_lives_beside_the_users_tables(pg_database: str, admin: Any) -> None:
    admin.execute("CREATE TABLE public.customers (id int)")
    try:
        with aion.Engine(pg_database) as engine:
            assert engine.store.workflows() == []
        tables = admin.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        assert tables == [("customers",)]
    finally:
        admin.execute("DROP TABLE public.customers")
        admin.execute("DROP SCHEMA aion CASCADE")


def test_text_postgres_cannot_hold_is_a_typed_error(store: PostgresStore) -> None:
    with pytest.raises(aion.StoreError, match=r"PostgreSQL text cannot hold NUL \(0x00\)"):
        store.append([Append(workflow_id="a\x00b", expected_seq=0, events=[started()])])
    assert store.workflows() == []
    store.append([Append(workflow_id="ok", expected_seq=0, events=[started()])])  # still usable
    assert [i.workflow_id for i in store.workflows()] == ["ok"]


def test_a_version_1_schema_is_upgraded_on_open(pg_url: str, admin: Any) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    open_store(pg_url).close()
    admin.execute(f"ALTER TABLE {schema}.events DROP COLUMN written_by")
    admin.execute(f"DROP TABLE {schema}.posted")
    admin.execute(f"UPDATE {schema}.meta SET value = '1' WHERE key = 'schema_version'")
    reopened = open_store(pg_url)
    reopened.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    reopened.close()
    version = admin.execute(f"SELECT value FROM {schema}.meta WHERE key = 'schema_version'")
    assert version.fetchone() == ("3",)
    writer = admin.execute(f"SELECT written_by FROM {schema}.events WHERE workflow_id = 'w'")
    assert writer.fetchall() == [(None,)]  # an unfenced writer (a client) is no session


def _posted_table(admin: Any, schema: str) -> list[tuple[Any, ...]]:
    return admin.execute(  # type: ignore[no-any-return]
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = 'posted' ORDER BY ordinal_position",
        [schema],
    ).fetchall()


def test_a_new_schema_has_the_posted_marker_table(pg_url: str, admin: Any) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    open_store(pg_url).close()
    assert _posted_table(admin, schema) == [
        ("batch_key", "text"),
        ("posted_at", "timestamp with time zone"),
    ]
    version = admin.execute(f"SELECT value FROM {schema}.meta WHERE key = 'schema_version'")
    assert version.fetchone() == ("3",)


def test_a_version_2_schema_is_upgraded_in_place(pg_url: str, admin: Any) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    first = open_store(pg_url)
    first.append([Append(workflow_id="w", expected_seq=0, events=[started()])])
    first.close()
    admin.execute(f"DROP TABLE {schema}.posted")
    admin.execute(f"UPDATE {schema}.meta SET value = '2' WHERE key = 'schema_version'")
    dsn, _ = split_schema(pg_url)
    reader = PostgresStore(dsn, schema=schema, read_only=True)  # a version 2 schema is aion's
    assert [i.workflow_id for i in reader.workflows()] == ["w"]
    reader.close()
    assert _posted_table(admin, schema) == []  # a reader changes nothing
    reopened = open_store(pg_url)
    assert [e.seq for e in reopened.history("w")] == [1]  # the data stayed where it was
    reopened.close()
    assert [c for c, _ in _posted_table(admin, schema)] == ["batch_key", "posted_at"]
    version = admin.execute(f"SELECT value FROM {schema}.meta WHERE key = 'schema_version'")
    assert version.fetchone() == ("3",)


def test_aion_parameters_never_reach_libpq_and_a_bad_lease_is_refused() -> None:
    from aion.store._postgres_url import lease_seconds

    url = "postgresql://me@db/x?aion_schema=s&aion_lease=4.5&connect_timeout=3"
    assert split_schema(url) == ("postgresql://me@db/x?connect_timeout=3", "s")
    assert lease_seconds(url, 30.0) == 4.5
    assert lease_seconds("postgresql://me@db/x", 30.0) == 30.0
    for bad in ("0.05", "soon", "nan"):
        with pytest.raises(aion.ConfigurationError, match=r"must be seconds above 0\.1"):
            lease_seconds(f"postgresql://me@db/x?aion_lease={bad}", 30.0)


def test_aion_release_idle_is_read_from_the_url_and_checked() -> None:
    from aion._cluster import ClusterWorker
    from aion.store._postgres_url import release_idle_seconds

    url = "postgresql://me@db/x?aion_release_idle=2.5&connect_timeout=3"
    assert split_schema(url) == ("postgresql://me@db/x?connect_timeout=3", "aion")
    assert release_idle_seconds(url, 60.0) == 2.5
    assert release_idle_seconds("postgresql://me@db/x", 60.0) == 60.0
    assert release_idle_seconds("postgresql://me@db/x?aion_release_idle=off", 60.0) is None
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(
            aion.ConfigurationError, match=r"aion_release_idle=.* above 0, or 'off'"
        ):
            release_idle_seconds(f"postgresql://me@db/x?aion_release_idle={bad}", 60.0)
    with pytest.raises(aion.ConfigurationError, match="release_idle_seconds must be above 0"):
        ClusterWorker("postgresql://me@db/x", workflows=[_a_flow], release_idle_seconds=0)


@aion.workflow
def _a_flow():  # type: ignore[no-untyped-def]
    return 1
    yield
