"""How an `aion.Engine` opened on a URL joins the cluster (registered at ``import aion``).

A PostgreSQL URL makes the engine a cluster member: its store is a
`FencedStore` of a new worker session that has claimed a first batch of
workflows, so the engine's recovery at open takes in only those, and
`serve` runs the member loop (`_session.serve`). Anything else is left to
`aion.store.open_store` (a DuckDB file), exactly as before. Importing this
module costs nothing: psycopg and the store load only when a URL is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aion import _openers

if TYPE_CHECKING:
    from aion.store import Store


def open_member_store(target: str, workflow_types: Sequence[str]) -> Store | None:
    """The member store of an engine on a PostgreSQL URL ``target``; None for anything else.

    The session's lease is ``aion_lease`` from the URL (30 s by default), and
    ``aion_release_idle`` how long an idle workflow is kept (60 s; ``off``).
    """
    from aion.store import is_postgres_url, open_store

    if not is_postgres_url(target):
        return None
    from aion._cluster._session import session_on
    from aion.store._postgres import PostgresStore
    from aion.store._postgres_leases import DEFAULT_LEASE_SECONDS, DEFAULT_RELEASE_IDLE_SECONDS
    from aion.store._postgres_url import lease_seconds, release_idle_seconds

    lease = lease_seconds(target, DEFAULT_LEASE_SECONDS)
    release = release_idle_seconds(target, DEFAULT_RELEASE_IDLE_SECONDS)
    store = open_store(target)  # a missing psycopg, a foreign schema: the usual errors
    assert isinstance(store, PostgresStore)
    return session_on(store, sorted(workflow_types), lease, release_idle=release)


def register() -> None:
    """Let engines opened on a PostgreSQL URL join the cluster (see `aion._openers`)."""
    _openers.register(open_member_store)
