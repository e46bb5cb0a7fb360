"""One engine serving as a cluster member: sessions opened, renewed, lost and replaced.

`open_session` registers a worker session on a `PostgresStore`, claims a
first batch of workflows and wraps the store in a `FencedStore`; an engine
opened on that wrapper recovers only what the session claimed. `serve` then
runs the engine's ordinary loop in a thread while this thread renews the
lease (every third of it), claims more workflows, delivers inbox
messages and releases workflows idle for the session's
``release_idle_seconds`` (`_seam.release_idle`), woken by NOTIFY and at
least every ``poll`` seconds.

When the lease is lost (a heartbeat or a fenced append says so, e.g. after
the process was paused past its lease), the loop is stopped, the engine
forgets everything (`_seam.reset`), and a new session is opened and adopted
by the same engine: it never writes again under the old one. A clean stop
ends the session, which releases its workflows to the others at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from aion._cluster._fenced import FencedStore
from aion._cluster._seam import IdleSince, adopt, deliver, release_idle, reset
from aion._errors import LeaseExpired, StoreError
from aion.store._postgres import PostgresStore
from aion.store._postgres_leases import DEFAULT_RELEASE_IDLE_SECONDS
from aion.store._postgres_notify import Listener, work_channel

if TYPE_CHECKING:
    from aion._engine._member import Member

log = logging.getLogger("aion.cluster")

#: Workflows claimed per round (several workers share a burst rather than one taking all).
CLAIM_BATCH: Final = 50
#: Seconds between claim/inbox rounds when no NOTIFY arrives (the polling fallback).
POLL_SECONDS: Final = 1.0


def open_session(
    dsn: str,
    schema: str,
    types: Sequence[str],
    lease_seconds: float,
    limit: int = CLAIM_BATCH,
    *,
    release_idle: float | None = DEFAULT_RELEASE_IDLE_SECONDS,
) -> FencedStore:
    """Register a session of ``types``, claim up to ``limit`` workflows; the fenced store.

    ``release_idle`` is how long the member loop keeps a workflow that sits
    idle before releasing it (None: never).
    """
    pg = PostgresStore(dsn, schema=schema)
    return session_on(pg, types, lease_seconds, limit, release_idle=release_idle)


def session_on(
    pg: PostgresStore,
    types: Sequence[str],
    lease_seconds: float,
    limit: int = CLAIM_BATCH,
    *,
    release_idle: float | None = DEFAULT_RELEASE_IDLE_SECONDS,
) -> FencedStore:
    """`open_session` on a store already open (closed again if the session cannot start)."""
    try:
        session = pg.register_session(workflow_types=types, lease_seconds=lease_seconds)
        claims = pg.claim(session, limit=limit)
    except BaseException:
        pg.close()
        raise
    store = FencedStore(pg, session, claims, release_idle_seconds=release_idle, serve=serve)
    store.only_owned = True  # until the engine's recovery has read the workflow list
    return store


def serve(
    engine: Member,
    loop: Callable[[threading.Event], None],
    stop: threading.Event,
    *,
    max_owned: int = 10_000,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Serve as a cluster member until ``stop``; ``loop(inner_stop)`` is the engine's own loop."""
    first = engine.store
    assert isinstance(first, FencedStore)
    listener = Listener(first.pg.dsn, work_channel(first.pg.schema))
    try:
        while not stop.is_set():
            store = engine.store
            assert isinstance(store, FencedStore)
            inner = threading.Event()
            thread = threading.Thread(target=_run, args=(loop, inner), name="aion-engine")
            thread.daemon = True
            thread.start()
            try:
                _drive(engine, store, stop, inner, listener, max_owned, poll_seconds)
            except StoreError as exc:
                store._lose(exc)
            finally:
                inner.set()
                with engine._runtime.cond:
                    engine._runtime.cond.notify_all()
                thread.join()
            if stop.is_set() or engine._runtime.closed:
                return
            # The session is over (lost lease, fenced append, lost store): start another.
            why = store.lost_reason or "the engine loop stopped"
            log.warning("aion worker session %s ended (%s)", store.session.session_id, why)
            reset(engine, why)
            store.close()
            _reattach(engine, store, stop)
    finally:
        listener.close()


def _run(loop: Callable[[threading.Event], None], inner: threading.Event) -> None:
    try:
        loop(inner)
    except Exception as exc:  # any failure ends the session; the driver opens a new one
        log.warning("aion engine loop stopped: %s", exc)
    finally:
        inner.set()


def _reattach(engine: Member, old: FencedStore, stop: threading.Event) -> None:
    """Open a new session like ``old`` and adopt its claims into ``engine``."""
    pause = min(1.0, old.session.lease_seconds / 3)
    while not stop.is_set():
        try:
            new = open_session(
                old.pg.dsn,
                old.pg.schema,
                old.session.workflow_types,
                old.session.lease_seconds,
                release_idle=old.release_idle_seconds,
            )
        except StoreError as exc:
            log.warning("aion cannot open a new worker session yet: %s", exc)
            stop.wait(pause)
            continue
        new.only_owned = False
        with engine._runtime.cond:
            engine.store = new
        adopt(engine, new, new.pg.owned(new.session))
        return


def _drive(
    engine: Member,
    store: FencedStore,
    stop: threading.Event,
    inner: threading.Event,
    listener: Listener,
    max_owned: int,
    poll_seconds: float,
) -> None:
    pg, session = store.pg, store.session
    beat_every = session.lease_seconds / 3
    poll = min(poll_seconds, beat_every)
    next_beat = time.monotonic() + beat_every
    idle_for = store.release_idle_seconds
    watch = IdleSince()
    # Sweep for idle workflows a few times per idle period (at most once a round).
    sweep_every = min(idle_for / 4, 10.0) if idle_for is not None else 0.0
    next_sweep = time.monotonic()
    while not stop.is_set() and not inner.is_set() and not store.lost:
        if time.monotonic() >= next_beat:
            try:
                pg.heartbeat(session)
            except LeaseExpired as exc:
                store._lose(exc)
                return
            next_beat = time.monotonic() + beat_every
        room = max_owned - len(store.epochs)
        if room > 0:
            claims = pg.claim(session, limit=min(CLAIM_BATCH, room))
            if claims:
                adopt(engine, store, claims)
                if len(claims) == CLAIM_BATCH:
                    continue  # more may be waiting: claim again before sleeping
        deliver(engine, store)
        if idle_for is not None and time.monotonic() >= next_sweep:
            released = release_idle(engine, store, watch, idle_for)
            if released:
                log.info("aion released %d idle workflows", len(released))
            next_sweep = time.monotonic() + sweep_every
        with engine._runtime.cond:  # a caller waiting on another worker's workflow looks again
            engine._runtime.cond.notify_all()
        listener.wait(max(min(poll, next_beat - time.monotonic()), 0.0))
