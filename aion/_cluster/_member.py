"""`MemberStore`: the store of an engine opened on a PostgreSQL URL, which serves it as a member.

A `FencedStore` of the session opened for the engine, plus the two hooks the
engine asks of such a store (`aion._engine._member.MemberStore`): recovery is
done (from then on the engine sees every workflow, not only those claimed),
and serve (the member loop of `_session.serve`). After a lost lease the
session's replacement is a plain `FencedStore`; the engine keeps asking the
store it was opened on, whose `serve_member` serves whatever session is current.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from aion._cluster._fenced import FencedStore
from aion._cluster._session import serve

if TYPE_CHECKING:
    from aion._engine._member import Member, ServeLoop


class MemberStore(FencedStore):
    """A fenced store that makes the engine opened on it a cluster member."""

    def recovered(self) -> None:
        """Recovery read only the claimed workflows; now every one is visible again."""
        self.only_owned = False

    def serve_member(self, member: Member, loop: ServeLoop, stop: threading.Event) -> None:
        """Serve ``member`` as a cluster member until ``stop`` is set."""
        serve(member, loop, stop)
