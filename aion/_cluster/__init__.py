"""Many workers on one PostgreSQL store: sessions, claims, fenced appends, inbox delivery.

* ``_open``     how `aion.Engine("postgresql://...")` joins (no psycopg needed to import)
* ``_fenced``   `FencedStore`: the store as one worker session sees it (every
  append fenced and routed; reads pass through)
* ``_seam``     the narrow seam to the engine's runtime: adopt claimed
  workflows, deliver inbox messages as events, reset after a lost lease
* ``_session``  the member loop: heartbeat, claims, delivery, a new session
  when the lease is lost
* ``_worker``   `ClusterWorker`: an engine serving as a member, for tests and benches

Nothing here is imported until used: the package needs psycopg only once a
PostgreSQL URL is opened.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aion._cluster._fenced import FencedStore as FencedStore
    from aion._cluster._worker import ClusterWorker as ClusterWorker

__all__ = ["ClusterWorker", "FencedStore"]


def __getattr__(name: str) -> Any:
    if name == "ClusterWorker":
        from aion._cluster._worker import ClusterWorker

        return ClusterWorker
    if name == "FencedStore":
        from aion._cluster._fenced import FencedStore

        return FencedStore
    msg = f"module 'aion._cluster' has no attribute {name!r}"
    raise AttributeError(msg)
