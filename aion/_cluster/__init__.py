"""Many workers on one PostgreSQL store: sessions, claims, fenced appends, inbox delivery.

* ``_fenced``  `FencedStore`: the store as one worker session sees it (every
  append fenced and routed; reads pass through)
* ``_seam``    the narrow seam to the engine's runtime: adopt claimed
  workflows, deliver inbox messages as events
* ``_worker``  `ClusterWorker`: the loop that registers, heartbeats, claims,
  delivers and, when the lease is lost, starts over with a new session
"""

from aion._cluster._fenced import FencedStore as FencedStore
from aion._cluster._worker import ClusterWorker as ClusterWorker

__all__ = ["ClusterWorker", "FencedStore"]
