"""What the cluster needs of an engine, and what an engine asks of a cluster's store.

The cluster (``aion._cluster``) sits above the engine: it drives an ordinary
engine as one of many workers on a PostgreSQL store. So that the dependency
runs one way only, each side sees the other through a protocol defined here:

* the cluster sees its engine as a `Member`: the runtime it reaches into
  between two steps (adopting claimed workflows, delivering inbox messages,
  resetting after a lost lease) and the store, which it replaces when a new
  session takes over. Nothing else of `Engine`;
* the engine sees the cluster only through the store it opened: a store that
  makes its engine a member (a `MemberStore`) says when recovery is done and
  how to serve. An engine on any other store serves with its own loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aion._engine._runtime import Runtime
    from aion.store import Store

#: The engine's own serve loop, run until the event is set.
ServeLoop = Callable[[threading.Event], None]


class Member(Protocol):
    """An engine as the cluster drives it (`aion.Engine` is one).

    ``_runtime`` keeps the engine's own name: it stays private to the engine
    and to the cluster code that drives it through this protocol.
    """

    _runtime: Runtime

    @property
    def store(self) -> Store:
        """The store the engine records into (a fenced view of one session)."""
        ...

    @store.setter
    def store(self, store: Store) -> None: ...


@runtime_checkable
class MemberStore(Protocol):
    """A store that makes the engine opened on it a cluster member."""

    def recovered(self) -> None:
        """The engine's recovery has read the workflow list (only the claimed ones so far)."""
        ...

    def serve_member(self, member: Member, loop: ServeLoop, stop: threading.Event) -> None:
        """Serve ``member`` until ``stop``: sessions, claims, inbox, and ``loop`` in a thread."""
        ...
