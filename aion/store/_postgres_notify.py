"""LISTEN/NOTIFY: waking workers and waiting clients after a commit, never before.

Two channels per schema: ``<schema>_work`` (a workflow nobody owns was
started, or an inbox message was posted: a worker has something to claim or
deliver) and ``<schema>_closed`` (a workflow reached a terminal status: a
waiting `aion.Client.result` can look). A notification is sent inside the
writing transaction, so PostgreSQL delivers it only once that commits, and
identical notifications of one transaction are folded into one: a batch of a
thousand events wakes each listener once, not a thousand times.

Notifications are hints. Listeners always re-read the tables and also poll on
a timeout, so a notification lost with a dropped connection only delays.
"""

from __future__ import annotations

import contextlib
import select
import time
from typing import Any

import psycopg


def work_channel(schema: str) -> str:
    """The channel that says there is work to claim or mail to deliver."""
    return f"{schema}_work"


def closed_channel(schema: str) -> str:
    """The channel that says some workflow closed."""
    return f"{schema}_closed"


def after_commit(
    conn: psycopg.Connection[tuple[Any, ...]], schema: str, *, work: bool, closed: bool
) -> None:
    """Queue the notifications a transaction's writes call for (sent at its COMMIT)."""
    if work:
        conn.execute("SELECT pg_notify(%s, '')", [work_channel(schema)])
    if closed:
        conn.execute("SELECT pg_notify(%s, '')", [closed_channel(schema)])


class Listener:
    """A dedicated connection listening on one channel; `wait` blocks until a hint or a timeout.

    Args:
        dsn: The database.
        channel: The channel to listen on (a name from this module).
    """

    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._connect()

    def _connect(self) -> None:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, application_name="aion-listen")
            # The channel name is built from a checked schema name: safe to splice.
            conn.execute(f"LISTEN {self._channel}")
        except psycopg.Error:
            self._conn = None  # polled until the server answers again
            return
        self._conn = conn

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; returns whether a notification arrived.

        Sleeps in ``select`` on the connection's socket (psycopg's own
        ``notifies(timeout=...)`` polls, which costs a busy worker CPU), then
        drains every notification already received, so a burst wakes once.
        A lost connection is dropped and made again on the next wait; until
        then the caller just polls (it re-reads the tables anyway).
        """
        conn = self._conn
        if conn is None:
            time.sleep(max(timeout, 0.0))
            self._connect()
            return False
        try:
            ready, _, _ = select.select([conn.pgconn.socket], [], [], max(timeout, 0.0))
            if not ready:
                return False
            if any(True for _ in conn.notifies(timeout=0.0)):
                return True
            conn.execute("SELECT 1")  # readable with nothing to read: is the server gone?
            return False
        except (psycopg.Error, OSError, ValueError):
            with contextlib.suppress(psycopg.Error):
                conn.close()
            self._conn = None
            return False

    def close(self) -> None:
        """Close the listening connection."""
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
