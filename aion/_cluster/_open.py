"""How an `aion.Engine` opened on a URL joins the cluster (importable without psycopg).

A PostgreSQL URL makes the engine a cluster member: its store is a
`FencedStore` of a new worker session that has claimed a first batch of
workflows, so the engine's recovery at open takes in only those, and
`serve` runs the member loop (`_session.serve`). Anything else is what
`aion.store.open_store` opens (a DuckDB file), exactly as before.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from aion.store import Store, is_postgres_url, open_store
from aion.store._postgres_leases import DEFAULT_LEASE_SECONDS, DEFAULT_RELEASE_IDLE_SECONDS
from aion.store._postgres_url import lease_seconds, release_idle_seconds

if TYPE_CHECKING:
    from aion._engine._engine import Engine


def open_engine_store(target: str, workflow_types: Iterable[str]) -> Store:
    """The store of an engine opened on ``target`` (see the module docstring).

    The session's lease is ``aion_lease`` from the URL (30 s by default), and
    ``aion_release_idle`` how long an idle workflow is kept (60 s; ``off``).
    """
    if not is_postgres_url(target):
        return open_store(target)
    lease = lease_seconds(target, DEFAULT_LEASE_SECONDS)
    release = release_idle_seconds(target, DEFAULT_RELEASE_IDLE_SECONDS)
    store = open_store(target)  # a missing psycopg, a foreign schema: the usual errors
    from aion._cluster._session import session_on
    from aion.store._postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    return session_on(store, sorted(workflow_types), lease, release_idle=release)


def recovered(store: Store) -> None:
    """The engine's recovery has read its workflow list: let it see every workflow again."""
    fenced = sys.modules.get("aion._cluster._fenced")
    if fenced is not None and isinstance(store, fenced.FencedStore):
        store.only_owned = False


def member_serve(
    engine: Engine, loop: Callable[[threading.Event], None], stop: threading.Event | None
) -> bool:
    """Serve ``engine`` as a cluster member when its store is one; False when it is not."""
    fenced = sys.modules.get("aion._cluster._fenced")  # never loaded: no member store exists
    if fenced is None or not isinstance(engine.store, fenced.FencedStore):
        return False
    from aion._cluster._session import serve

    serve(engine, loop, stop or threading.Event())
    return True
