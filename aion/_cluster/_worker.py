"""`ClusterWorker`: one of many worker processes sharing a PostgreSQL store.

Each session of the worker:

1. registers a session (lease on the database clock; the connection's
   ``idle_in_transaction_session_timeout`` is lowered to half the lease, so
   a worker paused inside a transaction loses its row locks before anyone
   may take its workflows over);
2. claims workflows of the types it registered (``FOR UPDATE SKIP LOCKED``)
   and opens an engine over a `FencedStore`, which recovers only those;
3. serves: the engine's own loop runs in a thread, while this loop renews
   the lease, claims more workflows and delivers inbox messages whenever a
   NOTIFY arrives (and at least every ``poll`` seconds).

When the lease is lost (a heartbeat or a fenced append says so, e.g. after
the process was paused past its lease), the engine is thrown away and the
worker starts a new session: it never writes again under the old one. A
clean stop ends the session, which releases its workflows at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from aion._cluster._fenced import FencedStore
from aion._cluster._seam import adopt, deliver
from aion._definitions import Registry
from aion._errors import ConfigurationError, LeaseExpired, StoreError
from aion.store._postgres import PostgresStore
from aion.store._postgres_leases import DEFAULT_LEASE_SECONDS
from aion.store._postgres_notify import Listener, work_channel
from aion.store._postgres_url import split_schema

log = logging.getLogger("aion.cluster")

#: Workflows claimed per round (several workers share a burst rather than one taking all).
CLAIM_BATCH: Final = 50
#: Seconds between claim/inbox rounds when no NOTIFY arrives (the polling fallback).
POLL_SECONDS: Final = 1.0


class ClusterWorker:
    """Serves the workflows of a PostgreSQL store together with other workers.

    Args:
        url: The ``postgresql://`` URL (``?aion_schema=`` picks the schema).
        workflows: Workflow functions this worker runs (it claims only these types).
        activities: Activity functions it can call.
        lease_seconds: The session lease; a dead worker's workflows are taken
            over this long after its last heartbeat.
        max_owned: The most workflows one session holds at once.
        engine_options: Passed to each session's `aion.Engine` (``max_workers``,
            ``executor``, ...).
    """

    def __init__(
        self,
        url: str,
        *,
        workflows: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_owned: int = 10_000,
        poll_seconds: float = POLL_SECONDS,
        **engine_options: Any,
    ) -> None:
        self.dsn, self.schema = split_schema(url)
        self.workflows = list(workflows)
        self.activities = list(activities)
        self.types = sorted(Registry(self.workflows, self.activities).workflows)
        if not self.types:
            msg = "a cluster worker needs at least one workflow to claim."
            raise ConfigurationError(msg)
        self.lease_seconds = lease_seconds
        self.max_owned = max_owned
        self.poll_seconds = min(poll_seconds, lease_seconds / 3)
        self.engine_options = engine_options
        #: How many sessions this worker has had (more than one after a lost lease).
        self.sessions = 0
        self.engine: Any = None
        self._wake = threading.Event()

    def serve(self, stop: threading.Event | None = None) -> None:
        """Serve until ``stop`` is set; a lost lease starts a new session."""
        stop = stop or threading.Event()
        listener = Listener(self.dsn, work_channel(self.schema))
        try:
            while not stop.is_set():
                try:
                    self._session(stop, listener)
                except StoreError as exc:
                    log.warning("aion worker session ended: %s; starting a new one", exc)
                    stop.wait(min(1.0, self.lease_seconds / 3))
        finally:
            listener.close()

    def _session(self, stop: threading.Event, listener: Listener) -> None:
        from aion._engine._engine import Engine

        pg = PostgresStore(self.dsn, schema=self.schema)
        try:
            session = pg.register_session(
                workflow_types=self.types, lease_seconds=self.lease_seconds
            )
            self.sessions += 1
            claims = pg.claim(session, limit=min(CLAIM_BATCH, self.max_owned))
            store = FencedStore(pg, session, claims)
            store.only_owned = True
            engine = Engine(
                store=store,
                workflows=self.workflows,
                activities=self.activities,
                **self.engine_options,
            )
            store.only_owned = False
            self.engine = engine
            inner = threading.Event()
            loop = threading.Thread(
                target=self._run_engine, args=(engine, inner), name="aion-engine", daemon=True
            )
            loop.start()
            try:
                self._drive(stop, inner, listener, pg, store, engine, session)
            finally:
                inner.set()
                with engine._cond:
                    engine._cond.notify_all()
                loop.join(timeout=10)
                engine.close()
            if not store.lost:
                pg.end_session(session)  # its workflows are claimable at once
        finally:
            pg.close()

    @staticmethod
    def _run_engine(engine: Any, inner: threading.Event) -> None:
        try:
            engine.serve(stop=inner)
        except Exception as exc:  # any failure: the driver starts a new session
            log.warning("aion engine loop stopped: %s", exc)
        finally:
            inner.set()

    def _drive(
        self,
        stop: threading.Event,
        inner: threading.Event,
        listener: Listener,
        pg: PostgresStore,
        store: FencedStore,
        engine: Any,
        session: Any,
    ) -> None:
        beat_every = self.lease_seconds / 3
        next_beat = time.monotonic() + beat_every
        while not stop.is_set() and not inner.is_set() and not store.lost:
            if time.monotonic() >= next_beat:
                try:
                    pg.heartbeat(session)
                except LeaseExpired as exc:
                    store._lose(exc)
                    return
                next_beat = time.monotonic() + beat_every
            room = self.max_owned - len(store.epochs)
            if room > 0:
                claims = pg.claim(session, limit=min(CLAIM_BATCH, room))
                if claims:
                    adopt(engine, store, claims)
                    if len(claims) == CLAIM_BATCH:
                        continue  # more may be waiting: claim again before sleeping
            deliver(engine, store)
            wait = max(min(self.poll_seconds, next_beat - time.monotonic()), 0.0)
            listener.wait(wait)
