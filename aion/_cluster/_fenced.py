"""`FencedStore`: a `PostgresStore` as one worker session sees it.

The engine's runtime appends batches without knowing about sessions; this
wrapper makes every one of them a fenced, routed append of the session:

* the session's claimed epochs are presented (`aion.store.Fence`), so an
  append after a takeover is refused inside its own transaction;
* events for workflows another session owns become inbox messages
  (`aion.store._postgres_routing`), in the same transaction;
* inbox messages the runtime has recorded as events are deleted in that
  same transaction (``consume``), so each is recorded exactly once;
* workflows the batch creates (children, continue-as-new keeps its row)
  join the session's fence;
* after a connection lost at COMMIT, the batch is judged (landed, or tried
  again) by what the session wrote itself, once the old server process has
  ended; a batch that only posts messages carries a ``posted`` marker key for
  that, so it is never posted twice nor lost.

Once a fence refuses an append, or a heartbeat finds the lease gone, the
wrapper is *lost*: the worker throws its engine away and starts over with a
new session (its workflows are someone else's now).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aion._errors import (
    ConfigurationError,
    FencedError,
    LeaseExpired,
    StoreConflictError,
    StoreError,
    StoreInvalidatedError,
)
from aion._events import Event
from aion.store import Append, Claim, Fence, Session, TimerInfo, WorkflowInfo
from aion.store._postgres import CREATED_EPOCH, PostgresStore
from aion.store._postgres_leases import DEFAULT_RELEASE_IDLE_SECONDS

if TYPE_CHECKING:
    from aion._engine._member import Member, ServeLoop

log = logging.getLogger("aion.cluster")

#: How an engine on a fenced store serves as a member (`_session.serve`, given by `session_on`).
MemberServe = Callable[["Member", "ServeLoop", threading.Event], None]


class FencedStore:
    """The store protocol over ``store``, fenced for ``session``.

    Args:
        store: The PostgreSQL store (its connection is shared by the worker's threads).
        session: The registered session.
        claims: Workflows the session claimed before the engine starts.
        release_idle_seconds: How long an owned workflow sits idle before the
            member loop releases it (None: never); see `_seam.release_idle`.
        serve: The member loop an engine opened on this store serves with
            (`serve_member`); `_session.session_on` gives `_session.serve`.

    It is the engine's `aion._engine._member.MemberStore`: the engine asks it
    when recovery is done and how to serve, and never imports the cluster.
    """

    def __init__(
        self,
        store: PostgresStore,
        session: Session,
        claims: Iterable[Claim],
        *,
        release_idle_seconds: float | None = DEFAULT_RELEASE_IDLE_SECONDS,
        serve: MemberServe | None = None,
    ) -> None:
        self.pg = store
        self._serve = serve
        self.session = session
        self.release_idle_seconds = release_idle_seconds
        self.path = store.path
        self.epochs: dict[str, int] = {c.workflow_id: c.epoch for c in claims}
        #: Inbox messages handed to the runtime, deleted by the next append that commits.
        self.pending_consume: set[int] = set()
        #: While the engine recovers at open, `workflows` lists only the session's own.
        self.only_owned = False
        self.lost = False
        self.lost_reason = ""
        self.appends = 0
        self._closed = False
        self._lock = threading.RLock()

    def add_claims(self, claims: Iterable[Claim]) -> None:
        """Workflows claimed since the engine started."""
        with self._lock:
            for claim in claims:
                self.epochs[claim.workflow_id] = claim.epoch

    def release_idle(self, workflow_ids: Sequence[str]) -> list[str]:
        """Release idle workflows in the database and drop them from the fence; those released.

        One with an inbox message waiting is not released (see
        `PostgresStore.release_idle`). Call it where no append can run meanwhile
        (under the engine's lock): an append fenced with a released epoch would
        be refused, and the session lost.
        """
        with self._lock:
            if self.lost or not workflow_ids:
                return []
            released = self.pg.release_idle(self.session, workflow_ids)
            for workflow_id in released:
                self.epochs.pop(workflow_id, None)
            return released

    def fence(self) -> Fence:
        """What the session's appends present now."""
        return Fence(session_id=self.session.session_id, epochs=dict(self.epochs))

    def owns(self, workflow_id: str) -> bool:
        """Whether the session holds ``workflow_id`` (claimed or created by it)."""
        return workflow_id in self.epochs

    def _lose(self, exc: Exception) -> None:
        self.lost = True
        self.lost_reason = str(exc)

    # --- the store protocol --------------------------------------------------------

    def append(self, batch: Sequence[Append]) -> None:
        """One fenced, routed transaction; consumes the inbox messages already recorded."""
        with self._lock:
            if self.lost:
                msg = f"worker session {self.session.session_id} is over: {self.lost_reason}"
                raise FencedError(
                    msg,
                    workflow_id=batch[0].workflow_id if batch else "",
                )
            consume = sorted(self.pending_consume)
            fence = self.fence()
            # A batch with nothing of the session's own and nothing consumed (an in-process
            # signal to another worker's workflow) leaves no trace of its own to judge by
            # after a lost connection: it carries a fresh marker key instead, every attempt.
            post_only = bool(batch) and not consume and not any(self._own(i) for i in batch)
            marker = uuid.uuid4().hex if post_only else None
            backend = self.pg.backend
            try:
                posts = self.pg.append_routed(batch, fence=fence, consume=consume, marker=marker)
            except (FencedError, LeaseExpired) as exc:
                self._lose(exc)
                raise
            except StoreInvalidatedError:
                if not self._landed_after_loss(batch, consume, marker, backend):
                    msg = (
                        "the connection to PostgreSQL was lost before the batch committed; "
                        "it was not recorded and is tried again."
                    )
                    raise StoreConflictError(msg) from None
                routed = {i.workflow_id for i in batch if not self._own(i)}
            else:
                routed = {p.workflow_id for p in posts}
            self.pending_consume.difference_update(consume)
            self.appends += 1
            for item in batch:
                if item.expected_seq == 0 and item.workflow_id not in routed | self.epochs.keys():
                    self.epochs[item.workflow_id] = CREATED_EPOCH

    def _own(self, item: Append) -> bool:
        """Whether the session wrote ``item`` itself (not routed to another owner's inbox)."""
        return item.workflow_id in self.epochs or item.expected_seq == 0

    def _landed_after_loss(
        self,
        batch: Sequence[Append],
        consume: Sequence[int],
        marker: str | None,
        backend: tuple[int, datetime | None],
    ) -> bool:
        """After a lost connection: reconnect and judge whether the batch committed.

        The engine's own judgement compares every head of the batch, but the
        heads of routed workflows never move (their events became inbox rows),
        so the session judges by what it wrote itself: its own workflows'
        heads, else the inbox messages the batch consumed, else (a batch that
        only posts) its marker row. First the old server process ``backend``
        must be gone: a COMMIT it was still running could land after the look.

        Raises:
            aion.StoreInvalidatedError: The server cannot be reached again.
            aion.store.FencedError: The old server process would not end, so the
                outcome cannot be known: the session is given up (its engine
                starts over from what the database holds).
        """
        self.pg.reopen()
        if not self.pg.wait_backend_gone(backend):
            msg = (
                f"after a lost connection, PostgreSQL process {backend[0]} of the interrupted "
                "commit did not end, so whether it landed cannot be known; the session is given up."
            )
            exc = FencedError(msg, workflow_id=batch[0].workflow_id if batch else "")
            self._lose(exc)
            raise exc
        own = [item for item in batch if self._own(item)]
        if own:
            heads = []
            for item in own:
                info = self.pg.info(item.workflow_id)
                heads.append(info.last_seq if info is not None else 0)
            return all(h >= a.expected_seq + len(a.events) for h, a in zip(heads, own, strict=True))
        if consume:
            return not self.pg.inbox_ids(consume)
        if marker is not None:
            return self.pg.posted(marker)
        return False  # an empty batch consuming nothing writes nothing

    def flush_consumed(self) -> None:
        """Delete recorded-or-dropped inbox messages when no batch is coming to carry them."""
        with self._lock:
            if self.pending_consume and not self.lost:
                self.append([])

    def history(self, workflow_id: str) -> list[Event]:
        return self.pg.history(workflow_id)

    def histories(self, workflow_ids: Iterable[str] | None = None) -> dict[str, list[Event]]:
        return self.pg.histories(workflow_ids)

    def info(self, workflow_id: str) -> WorkflowInfo | None:
        return self.pg.info(workflow_id)

    def workflows(
        self, *, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        infos = self.pg.workflows(status=status, workflow_type=workflow_type)
        if self.only_owned:
            return [i for i in infos if i.workflow_id in self.epochs]
        return infos

    def due_timers(self, now: datetime | None = None) -> list[TimerInfo]:
        return self.pg.due_timers(now)

    def reopen(self) -> None:
        self.pg.reopen()

    def close(self) -> None:
        """End the session if it is still live (its workflows are released at once), then close.

        Idempotent; a lost session is left to expire (it may not write anyway).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if not self.lost:
                self.pg.end_session(self.session)
        except StoreError as exc:
            log.warning("aion could not end worker session %s: %s", self.session.session_id, exc)
        finally:
            self.pg.close()

    def recovered(self) -> None:
        """The engine's recovery has read the workflow list: from now on it sees every workflow."""
        self.only_owned = False

    def serve_member(self, member: Member, loop: ServeLoop, stop: threading.Event) -> None:
        """Serve ``member`` as one worker of the cluster until ``stop`` (see `_session.serve`).

        Raises:
            aion.ConfigurationError: The store was made without a member loop
                (open a session with `_session.session_on` to serve on it).
        """
        if self._serve is None:
            msg = "this fenced store has no member loop: open it with session_on to serve on it."
            raise ConfigurationError(msg)
        self._serve(member, loop, stop)
