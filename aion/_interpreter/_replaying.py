"""Replay's loop over recorded events, with the sequential call taken inline.

A replayed history is mostly one pattern: a recorded `ActivityScheduled`
(the decision the code already made) and its `ActivityCompleted` (the value
that resumes the code at that call). `Replaying.replay_events` does for those
two exactly what `Interpreter.feed` and `Interpreter.apply` would, written out
in the loop: the same bookkeeping in the same order, the same handler rules,
the same stall on a result that no longer decodes. Every other event, and
either of those two whenever anything is unusual (the run is not running,
the call is a group's member, the decision was not made yet and so diverges),
goes through `feed` or `apply` as before, so divergences are found and worded
by the one general path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aion._codec import NOT_QUICK
from aion._events import ActivityCompleted, ActivityScheduled, Event
from aion._interpreter._divergence import Diverged
from aion._interpreter._issue import Issuer
from aion._interpreter._nodes import ActivityNode
from aion._interpreter._tree import Stall, decode_result


class Replaying(Issuer):
    """The replay loop (inherited by `Interpreter`)."""

    status: str
    _seen_decisions: int

    if TYPE_CHECKING:

        def apply(self, event: Event, batch: Any = ()) -> None: ...
        def feed(self, event: Event) -> None: ...
        def _stall(self, exc: BaseException) -> None: ...

    def replay_events(self, events: Iterable[Event], stop_at_stall: bool) -> None:
        """`feed` each recorded event in order (the caller has started the run)."""
        apply, feed = self.apply, self.feed
        pending = self._pending  # cleared on a stall or a terminate, never replaced
        for event in events:
            if type(event) is ActivityCompleted:
                # `apply` and `_on_activity_completed` for a top-level call the code
                # waits on: the one case that needs no group, deadline or late rule.
                node = pending.get(event.ordinal)
                if (
                    type(node) is not ActivityNode
                    or node.parent is not None
                    or node is not self._root
                    or self.status != "running"
                ):
                    apply(event)
                else:
                    self.last_seq = event.seq
                    self._ahead = None
                    self.now = event.recorded_at
                    try:
                        value = node.decode(event.result)
                        if value is NOT_QUICK:
                            value = decode_result(node, event)
                        node.done, node.value = True, value
                        del pending[node.ordinal]
                        self._resume(True, value)
                    except (Diverged, Stall) as exc:
                        self._stall(exc)
            elif type(event) is ActivityScheduled and self._seen_decisions < self._issued:
                # `feed` for a recorded call the code has made already: nothing to match.
                self.last_seq = event.seq
                self._ahead = None
                self._seen_decisions += 1
                continue  # a matched decision never stalls
            elif event.FAMILY == "outcome":
                apply(event)
            else:
                feed(event)
            if stop_at_stall and self.status == "stalled":
                break
