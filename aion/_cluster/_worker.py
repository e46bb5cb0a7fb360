"""`ClusterWorker`: an engine serving a PostgreSQL store together with other processes.

The engine is an ordinary `aion.Engine` opened on a `FencedStore` of a fresh
worker session (`_session.open_session`), so its recovery at open takes in
only the workflows the session claimed; `_session.serve` does the rest
(heartbeats, claims, inbox delivery, a new session after a lost lease).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from aion._cluster import _session
from aion._definitions import Registry
from aion._errors import ConfigurationError
from aion.store._postgres_leases import DEFAULT_LEASE_SECONDS, DEFAULT_RELEASE_IDLE_SECONDS
from aion.store._postgres_url import split_schema


class ClusterWorker:
    """Serves the workflows of a PostgreSQL store together with other workers.

    Args:
        url: The ``postgresql://`` URL (``?aion_schema=`` picks the schema).
        workflows: Workflow functions this worker runs (it claims only these types).
        activities: Activity functions it can call.
        lease_seconds: The session lease; a dead worker's workflows are taken
            over this long after its last heartbeat.
        max_owned: The most workflows one session holds at once.
        release_idle_seconds: How long an owned workflow may sit idle (waiting
            only on a timer, a signal or a child) before it is released to all
            workers; None never releases (``aion.Engine(url)`` reads it from
            the URL's ``aion_release_idle``, as it reads the lease).
        engine_options: Passed to the `aion.Engine` (``max_workers``, ``executor``, ...).
    """

    def __init__(
        self,
        url: str,
        *,
        workflows: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_owned: int = 10_000,
        release_idle_seconds: float | None = DEFAULT_RELEASE_IDLE_SECONDS,
        poll_seconds: float = _session.POLL_SECONDS,
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
        if release_idle_seconds is not None and not release_idle_seconds > 0:
            msg = f"release_idle_seconds must be above 0 (None: never), got {release_idle_seconds}."
            raise ConfigurationError(msg)
        self.release_idle_seconds = release_idle_seconds
        self.poll_seconds = poll_seconds
        self.engine_options = engine_options
        self.engine: Any = None
        #: Set once the first session is registered and its engine has recovered.
        self.started = threading.Event()

    def serve(self, stop: threading.Event | None = None) -> None:
        """Serve until ``stop`` is set; a lost lease starts a new session."""
        from aion._engine._engine import Engine

        stop = stop or threading.Event()
        store = _session.open_session(
            self.dsn,
            self.schema,
            self.types,
            self.lease_seconds,
            release_idle=self.release_idle_seconds,
        )
        engine = Engine(
            store=store, workflows=self.workflows, activities=self.activities, **self.engine_options
        )
        store.only_owned = False
        self.engine = engine
        self.started.set()
        try:
            _session.serve(
                engine,
                engine._serve_loop,
                stop,
                max_owned=self.max_owned,
                poll_seconds=self.poll_seconds,
            )
        finally:
            engine.close()
            engine.store.close()  # the engine was given the store: its session ends here
