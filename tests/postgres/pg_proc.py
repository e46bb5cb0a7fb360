"""A real second process for the PostgreSQL tests: ``python -m tests.postgres.pg_proc MODE URL``.

Modes (each prints JSON lines on stdout the test reads, and follows orders on stdin):

* ``hold URL``: append seq 2 to workflow ``w``; inside the transaction, just
  before COMMIT, print ``holding`` and wait for a line on stdin.
* ``stop URL``: register a session (lease 1.5 s), claim ``w``, append seq 2;
  just before COMMIT, print ``stopping`` and SIGSTOP itself. Once continued,
  print how the commit ended, then retry the same fenced append and print that.
* ``claim URL``: register a session and claim in small batches until nothing
  is left; print the claimed ids.
* ``gate URL``: print its backend pid, then append to ``a`` (2 events) and
  ``b`` (1 event) in one batch (the test holds that COMMIT, then SIGKILLs us).
* ``loop URL``: append one event to each of ``a``, ``b`` and ``c`` per batch,
  forever, printing the number of batches committed after each.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime

from aion._events import SignalReceived
from aion.store import Append, Fence, PostgresStore
from aion.store._postgres_url import split_schema


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def signal_event(seq: int, who: str) -> SignalReceived:
    return SignalReceived(
        seq=seq, run_id="r1", recorded_at=datetime.now(UTC), name=who, payload=seq
    )


class Holding(PostgresStore):
    def _before_commit(self) -> None:
        say(state="holding", pid=self._conn.info.backend_pid)
        sys.stdin.readline()


class Stopping(PostgresStore):
    armed = True

    def _before_commit(self) -> None:
        if self.armed:
            self.armed = False
            say(state="stopping", pid=self._conn.info.backend_pid)
            os.kill(os.getpid(), signal.SIGSTOP)


def outcome(store: PostgresStore, batch: list[Append], fence: Fence | None) -> str:
    try:
        store.append(batch, fence=fence)
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def main(mode: str, url: str) -> None:
    dsn, schema = split_schema(url)
    if mode == "hold":
        store: PostgresStore = Holding(dsn, schema=schema)
        batch = [Append(workflow_id="w", expected_seq=1, events=[signal_event(2, "holder")])]
        say(state="done", outcome=outcome(store, batch, None))
    elif mode == "stop":
        store = Stopping(dsn, schema=schema)
        session = store.register_session(workflow_types=["flow"], lease_seconds=1.5)
        claims = store.claim(session)
        say(state="claimed", ids=[c.workflow_id for c in claims], epochs=[c.epoch for c in claims])
        fence = Fence.of(session, claims)
        batch = [Append(workflow_id="w", expected_seq=1, events=[signal_event(2, "old-owner")])]
        first = outcome(store, batch, fence)
        store.reopen()
        say(state="done", first=first, retry=outcome(store, batch, fence))
    elif mode == "gate":
        store = PostgresStore(dsn, schema=schema)
        say(state="appending", pid=store._conn.info.backend_pid)
        store.append(
            [
                Append(
                    workflow_id="a",
                    expected_seq=1,
                    events=[signal_event(2, "x"), signal_event(3, "x")],
                ),
                Append(workflow_id="b", expected_seq=1, events=[signal_event(2, "x")]),
            ]
        )
        say(state="done")
    elif mode == "loop":
        store = PostgresStore(dsn, schema=schema)
        head = 1
        while True:
            head += 1
            store.append(
                [
                    Append(workflow_id=w, expected_seq=head - 1, events=[signal_event(head, w)])
                    for w in "abc"
                ]
            )
            say(state="committed", batches=head - 1)
    elif mode == "claim":
        store = PostgresStore(dsn, schema=schema)
        session = store.register_session(workflow_types=["flow"])
        got: list[str] = []
        while batch_claims := store.claim(session, limit=7):
            got.extend(c.workflow_id for c in batch_claims)
        say(state="done", ids=got)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
