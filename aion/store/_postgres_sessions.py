"""The worker-session half of `PostgresStore`: register, heartbeat, claim, release, inbox.

The rules (leases on the database clock, ``SKIP LOCKED`` claims, epochs) are
described in `aion.store._postgres_leases`; these methods run them on the
store's connection. They are the primitives the multi-worker engine builds on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg

from aion._errors import LeaseExpired, StoreError, WorkflowClosed, WorkflowNotFound
from aion._events import TERMINAL_STATUSES
from aion.store import _postgres_leases as leases
from aion.store import _postgres_notify as notify
from aion.store._postgres_leases import Claim, InboxMessage, Session


class WorkerSessions:
    """Mixed into `PostgresStore`; uses its connection guard and schema."""

    schema: str
    _idle_timeout: float
    _sessions: set[int]
    _guard: Callable[[str], contextlib.AbstractContextManager[psycopg.Connection[tuple[Any, ...]]]]
    _set_idle_timeout: Callable[[float], None]

    def register_session(
        self,
        *,
        workflow_types: Iterable[str],
        lease_seconds: float = leases.DEFAULT_LEASE_SECONDS,
        name: str | None = None,
    ) -> Session:
        """Register a worker session with a lease on the database clock.

        The connection's ``idle_in_transaction_session_timeout`` is lowered to
        half the lease, so a worker paused inside a transaction loses it (and
        its row locks) before anyone may take its workflows over. Markers of
        post-only batches older than an hour are purged on the way.
        """
        if lease_seconds <= 0.1:
            msg = f"a worker lease must be longer than 0.1 seconds, got {lease_seconds}."
            raise StoreError(msg)
        types = sorted(set(workflow_types))
        who = name or f"{os.uname().nodename}:{os.getpid()}"
        with self._guard("register a session in") as conn:
            if self._idle_timeout > lease_seconds / 2:
                self._set_idle_timeout(lease_seconds / 2)
            with conn.transaction():
                row = conn.execute(
                    leases.register_sql(self.schema),
                    [who, types, lease_seconds, lease_seconds],
                ).fetchone()
                conn.execute(leases.purge_posted_sql(self.schema), [leases.POSTED_KEEP_SECONDS])
        assert row is not None  # INSERT ... RETURNING returns its row
        self._sessions.add(int(row[0]))
        return Session(
            session_id=int(row[0]),
            name=who,
            workflow_types=tuple(types),
            lease_seconds=lease_seconds,
        )

    def heartbeat(self, session: Session) -> datetime:
        """Renew the session's lease; returns when it now runs out.

        Raises:
            aion.store.LeaseExpired: The lease had already run out: the session is over.
        """
        with self._guard("renew a lease in") as conn:
            row = conn.execute(
                leases.heartbeat_sql(self.schema),
                [session.session_id],
            ).fetchone()
        if row is None:
            msg = (
                f"worker session {session.session_id} ({session.name}) let its lease run "
                "out: its workflows may belong to another session now; register a new one."
            )
            raise LeaseExpired(msg)
        return row[0].astimezone(UTC)  # type: ignore[no-any-return]

    def claim(self, session: Session, *, limit: int = 100) -> list[Claim]:
        """Claim up to ``limit`` workflows that need a worker, of the session's types.

        Raises:
            aion.store.LeaseExpired: The session's own lease has run out.
        """
        s = self.schema
        with self._guard("claim workflows in") as conn, conn.transaction():
            live = conn.execute(
                leases.live_session_sql(s),
                [session.session_id],
            ).fetchone()
            if live is None or not live[0]:
                msg = f"worker session {session.session_id}'s lease has run out: it may not claim."
                raise LeaseExpired(msg)
            rows = conn.execute(
                leases.claim_sql(s),
                {
                    "types": list(session.workflow_types),
                    "limit": limit,
                    "session": session.session_id,
                },
            ).fetchall()
        return leases.claims_from(rows)

    def release(self, session: Session, workflow_ids: Iterable[str], *, idle: bool = True) -> None:
        """Give workflows up; ``idle`` ones are claimable again once a timer or message is due."""
        with self._guard("release workflows in") as conn:
            conn.execute(
                leases.release_sql(self.schema),
                [idle, session.session_id, list(workflow_ids)],
            )

    def release_idle(self, session: Session, workflow_ids: Iterable[str]) -> list[str]:
        """Release idle workflows that no inbox message waits for; returns those released.

        They become claimable by any worker of their type once a timer is due
        or a message is posted to them (``claim_sql``).
        """
        with self._guard("release workflows in") as conn:
            rows = conn.execute(
                leases.release_idle_sql(self.schema),
                [session.session_id, list(workflow_ids)],
            ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def end_session(self, session: Session) -> None:
        """End a session cleanly: its workflows become claimable at once."""
        release, delete = leases.end_session_sql(self.schema)
        with self._guard("end a session in") as conn, conn.transaction():
            conn.execute(release, [session.session_id])
            conn.execute(delete, [session.session_id])
        self._sessions.discard(session.session_id)

    def post(self, workflow_id: str, kind: str, payload: str | None = None) -> int:
        """Post a message (JSON text, kept exactly) to a workflow's inbox; returns its id."""
        with self._guard("post to") as conn:
            row = conn.execute(
                f"INSERT INTO {self.schema}.inbox (workflow_id, kind, payload) "
                "VALUES (%s, %s, %s::json) RETURNING message_id",
                [workflow_id, kind, payload],
            ).fetchone()
        assert row is not None
        return int(row[0])

    def request(self, workflow_id: str, kind: str, payload: str) -> int:
        """Post a signal or cancel for an open workflow, checked and posted in one transaction.

        The workflow's row is locked ``FOR SHARE`` while the message is
        inserted, so it cannot close between the check and the post; its
        owner (or whoever claims it next, woken by NOTIFY at COMMIT) records
        the message as an event and deletes it in that same transaction.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: It has finished.
        """
        s = self.schema
        with self._guard("post to") as conn, conn.transaction():
            row = conn.execute(
                f"SELECT status FROM {s}.workflows WHERE workflow_id = %s FOR SHARE",
                [workflow_id],
            ).fetchone()
            if row is None:
                msg = f"no workflow with id {workflow_id!r} in this store."
                raise WorkflowNotFound(msg)
            if row[0] in TERMINAL_STATUSES:
                what = "signal" if kind == "signal" else "cancel request"
                msg = f"workflow {workflow_id!r} is {row[0]} and cannot take a {what}."
                raise WorkflowClosed(msg)
            posted = conn.execute(
                f"INSERT INTO {s}.inbox (workflow_id, kind, payload) "
                "VALUES (%s, %s, %s::json) RETURNING message_id",
                [workflow_id, kind, payload],
            ).fetchone()
            notify.after_commit(conn, s, work=True, closed=False)
        assert posted is not None
        return int(posted[0])

    def owned(self, session: Session) -> list[Claim]:
        """The workflows ``session`` owns now (after a claim or a creation), with their epochs."""
        with self._guard("read") as conn:
            rows = conn.execute(
                f"SELECT workflow_id, workflow_type, epoch, last_seq FROM {self.schema}.workflows "
                "WHERE owner = %s",
                [session.session_id],
            ).fetchall()
        return leases.claims_from(rows)

    def inbox_for(self, session: Session, *, limit: int = 1000) -> list[InboxMessage]:
        """Messages waiting for workflows ``session`` owns, in posting order."""
        s = self.schema
        with self._guard("read") as conn:
            rows = conn.execute(
                f"SELECT i.message_id, i.workflow_id, i.kind, i.payload::text, i.posted_at "
                f"FROM {s}.inbox i JOIN {s}.workflows w ON w.workflow_id = i.workflow_id "
                "WHERE w.owner = %s ORDER BY i.message_id LIMIT %s",
                [session.session_id, limit],
            ).fetchall()
        return [
            InboxMessage(message_id=m, workflow_id=w, kind=k, payload=p, posted_at=at)
            for m, w, k, p, at in rows
        ]

    def inbox_ids(self, message_ids: Iterable[int]) -> list[int]:
        """Which of ``message_ids`` are still waiting (not consumed)."""
        with self._guard("read") as conn:
            rows = conn.execute(
                f"SELECT message_id FROM {self.schema}.inbox WHERE message_id = ANY(%s)",
                [list(message_ids)],
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def inbox(self, workflow_ids: Iterable[str]) -> list[InboxMessage]:
        """Messages waiting for the given workflows, in posting order."""
        with self._guard("read") as conn:
            rows = conn.execute(
                f"SELECT message_id, workflow_id, kind, payload::text, posted_at "
                f"FROM {self.schema}.inbox WHERE workflow_id = ANY(%s) ORDER BY message_id",
                [list(workflow_ids)],
            ).fetchall()
        return [
            InboxMessage(message_id=m, workflow_id=w, kind=k, payload=p, posted_at=at)
            for m, w, k, p, at in rows
        ]
