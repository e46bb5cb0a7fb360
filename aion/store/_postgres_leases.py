"""Worker sessions, leases, claims and fences: who may drive which workflow.

A workflow is driven by at most one worker session at a time. The rules, all
evaluated on the database's clock (never a worker's):

* a session registers with a lease (``lease_until = clock_timestamp() +
  lease``) and renews it by heartbeat; once it has run out the session is over
  for good (`LeaseExpired`), whether or not anyone took its workflows;
* a session claims workflows of the types it registered with ``FOR UPDATE
  SKIP LOCKED``: open workflows nobody live owns that need driving (never
  released, or released idle but with a due timer or an inbox message).
  A claim bumps the workflow's ``epoch``;
* every fenced append locks the workflow rows it writes and checks, inside
  the same transaction, that the session still owns each one at the epoch it
  claimed and that its lease is live. A takeover needs that row lock too, so
  an old owner either commits before the takeover or is refused after it; an
  owner paused inside its transaction holds the lock only until
  ``idle_in_transaction_session_timeout`` (set below the lease) ends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

#: The lease a session gets unless it asks for another.
DEFAULT_LEASE_SECONDS: Final = 30.0
#: Seconds an owned workflow must sit idle before its worker releases it (see `_cluster`).
DEFAULT_RELEASE_IDLE_SECONDS: Final = 60.0
#: How long ``posted`` markers are kept (`purge_posted_sql`).
POSTED_KEEP_SECONDS: Final = 3600.0
#: Statuses whose workflows may still need a worker.
OPEN_STATUSES: Final = ("running", "stalled", "continued_as_new")


@attrs.frozen(kw_only=True)
class Session:
    """A registered worker session.

    Attributes:
        session_id: The database's id for the session.
        name: Who registered it (e.g. ``host:pid``), for people reading the table.
        workflow_types: The workflow types the session can run (the only ones it claims).
        lease_seconds: How long a heartbeat keeps the session alive.
    """

    session_id: int
    name: str
    workflow_types: tuple[str, ...]
    lease_seconds: float


@attrs.frozen(kw_only=True)
class Claim:
    """A workflow a session now owns.

    Attributes:
        workflow_id: The workflow.
        workflow_type: Its current run's type.
        epoch: The ownership epoch the session must present on every append.
        last_seq: Its history's head when claimed.
    """

    workflow_id: str
    workflow_type: str
    epoch: int
    last_seq: int


@attrs.frozen(kw_only=True)
class Fence:
    """What a fenced append presents: the session and the epochs it claimed.

    Attributes:
        session_id: The writing session.
        epochs: Workflow id -> epoch from its `Claim`. A workflow missing here
            may only be created by the append (it is then owned by the session).
    """

    session_id: int
    epochs: Mapping[str, int] = attrs.field(factory=dict)

    @classmethod
    def of(cls, session: Session, claims: Iterable[Claim]) -> Fence:
        """The fence for ``session`` holding ``claims``."""
        return cls(session_id=session.session_id, epochs={c.workflow_id: c.epoch for c in claims})


@attrs.frozen(kw_only=True)
class InboxMessage:
    """A message posted to a workflow by another process, waiting for its owner.

    Attributes:
        message_id: Its id, in posting order.
        workflow_id: The target workflow.
        kind: What it is (e.g. ``signal``, ``cancel``).
        payload: Its JSON text, exactly as posted.
        posted_at: When it was posted (database clock).
    """

    message_id: int
    workflow_id: str
    kind: str
    payload: str | None
    posted_at: datetime


def register_sql(s: str) -> str:
    """Insert a session with its first lease; returns its id."""
    return (
        f"INSERT INTO {s}.sessions (name, workflow_types, lease_seconds, lease_until) "
        "VALUES (%s, %s, %s, clock_timestamp() + make_interval(secs => %s)) "
        "RETURNING session_id"
    )


def purge_posted_sql(s: str) -> str:
    """Forget ``posted`` markers older than `POSTED_KEEP_SECONDS` (parameter: the seconds).

    A marker is read only by the session that wrote it, moments after a lost
    connection; an hour later nobody will ask. Run at each registration, so
    the table holds about an hour of post-only batches and needs no sweeper.
    """
    return f"DELETE FROM {s}.posted WHERE posted_at < clock_timestamp() - make_interval(secs => %s)"


def heartbeat_sql(s: str) -> str:
    """Renew a live lease; returns nothing when the lease has already run out."""
    return (
        f"UPDATE {s}.sessions SET lease_until = clock_timestamp() + "
        "make_interval(secs => lease_seconds) "
        "WHERE session_id = %s AND lease_until > clock_timestamp() RETURNING lease_until"
    )


def live_session_sql(s: str) -> str:
    """Whether a session's lease is live; locks the row against deletion only."""
    return (
        f"SELECT lease_until > clock_timestamp() FROM {s}.sessions "
        "WHERE session_id = %s FOR KEY SHARE"
    )


def claim_sql(s: str) -> str:
    """Claim up to N claimable workflows of the given types for a session.

    Parameters: types, limit, session id. Rows locked by any transaction (an
    owner mid-append, another claimer) are skipped, never waited for.
    """
    return f"""
        WITH picked AS (
            SELECT w.workflow_id FROM {s}.workflows w
            WHERE w.status IN ('running', 'stalled', 'continued_as_new')
              AND w.workflow_type = ANY(%(types)s)
              AND (w.owner IS NULL OR NOT EXISTS (
                    SELECT 1 FROM {s}.sessions o
                    WHERE o.session_id = w.owner AND o.lease_until > clock_timestamp()))
              AND (NOT w.idle
                   OR EXISTS (SELECT 1 FROM {s}.timers t
                              WHERE t.workflow_id = w.workflow_id
                                AND t.fire_at <= clock_timestamp())
                   OR EXISTS (SELECT 1 FROM {s}.inbox i WHERE i.workflow_id = w.workflow_id))
            ORDER BY w.started_at, w.workflow_id
            LIMIT %(limit)s
            FOR UPDATE OF w SKIP LOCKED
        )
        UPDATE {s}.workflows w SET owner = %(session)s, epoch = w.epoch + 1, idle = false
        FROM picked WHERE w.workflow_id = picked.workflow_id
        RETURNING w.workflow_id, w.workflow_type, w.epoch, w.last_seq
    """


def release_idle_sql(s: str) -> str:
    """Release a session's idle workflows that have no inbox message waiting.

    Parameters: session id, ids. Returns the ids released: one with a message
    waiting stays owned (its owner delivers the message next round).
    """
    return (
        f"UPDATE {s}.workflows w SET owner = NULL, idle = true "
        "WHERE w.owner = %s AND w.workflow_id = ANY(%s) "
        f"AND NOT EXISTS (SELECT 1 FROM {s}.inbox i WHERE i.workflow_id = w.workflow_id) "
        "RETURNING w.workflow_id"
    )


def release_sql(s: str) -> str:
    """Give up a session's workflows (parameters: idle flag, session id, ids)."""
    return (
        f"UPDATE {s}.workflows SET owner = NULL, idle = %s "
        "WHERE owner = %s AND workflow_id = ANY(%s)"
    )


def end_session_sql(s: str) -> tuple[str, str]:
    """Release every workflow of a session (claimable at once), then remove the session."""
    return (
        f"UPDATE {s}.workflows SET owner = NULL, idle = false WHERE owner = %s",
        f"DELETE FROM {s}.sessions WHERE session_id = %s",
    )


def claims_from(rows: Iterable[tuple[Any, ...]]) -> list[Claim]:
    """`Claim` records from the rows ``claim_sql`` returns, in workflow-id order."""
    claims = [
        Claim(workflow_id=w, workflow_type=t, epoch=int(e), last_seq=int(q)) for w, t, e, q in rows
    ]
    claims.sort(key=lambda c: c.workflow_id)
    return claims
