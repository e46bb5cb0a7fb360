"""The pending tree: how outcomes settle nodes, and the rules for settling and cancelling.

Every command the code waits on is a node; groups (`collect_all`, `collect_race`,
`collect_map`) and deadlines (`with_timeout`) hold members. An outcome settles its
node, and settling climbs the tree: a member tells its group (whose rule may
settle it, cancelling the rest), an inner command tells its deadline, and a
settled root resumes the generator. A cancellation walks down a subtree and
records a `CommandCancelled` for every command still pending, unless that
command's own final outcome is already in history.

`PendingTree` holds these rules; `Issuer` (which builds nodes) and
`Interpreter` (which drives the generator) inherit them and own the state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

from aion import _codec
from aion._errors import (
    ActivityError,
    Cancelled,
    ChildWorkflowError,
    CodecError,
    SignalDeliveryError,
    Timeout,
)
from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    CancelRequested,
    ChildCompleted,
    ChildFailed,
    CommandCancelled,
    Event,
    SignalDelivered,
    SignalDeliveryFailed,
    SignalReceived,
    TimerFired,
)
from aion._interpreter._nodes import ActivityNode, Deadline, Group, Node


class Stall(Exception):
    """Internal: the run cannot go on under this code (e.g. a payload no longer decodes)."""


class PendingTree:
    """Settling and cancelling the nodes the run waits on (inherited by `Interpreter`)."""

    last_seq: int
    _root: Node | None
    _pending: dict[int, Node]
    _receivers: dict[str, deque[Node]]
    _signals: dict[str, deque[Any]]
    _cancelling: bool
    _gen: Generator[Any, Any, Any] | None
    _settled_first: bool
    _tail: Sequence[Event]
    _ahead: frozenset[int] | None

    if TYPE_CHECKING:

        def _resume(self, ok: bool, value: Any) -> None: ...
        def _decide(self, cls: type[Event], fields: dict[str, Any]) -> None: ...
        def _start_map_member(self, group: Group) -> None: ...
        def _terminate(self, reason: str | None) -> None: ...

    # --- settling and cancelling ------------------------------------------------------

    def _settle(self, node: Node, ok: bool, value: Any) -> None:
        if node.done:
            return
        node.done, node.ok, node.value = True, ok, value
        self._pending.pop(node.ordinal, None)
        parent = node.parent
        if parent is None:  # the common case first: a top-level command
            if node is self._root:
                self._resume(ok, value)
        elif isinstance(parent, Group):
            self._member_settled(parent, node)
        elif not parent.issuing:  # a Deadline: its inner command settled
            self._inner_settled(parent, node)

    def _member_settled(self, group: Group, node: Node) -> None:
        if group.done:
            return
        if node.ok:
            group.results[node.slot] = node.value
        group.remaining -= 1
        if group.issuing:
            return
        self._evaluate_group(group, node)

    def _evaluate_group(self, group: Group, last: Node | None = None) -> None:
        """Settle ``group`` if its rule says so; during issue, scan in member order."""
        candidates = [last] if last is not None else [m for m in group.members if m and m.done]
        for node in candidates:
            if group.kind == "race":
                self._cancel_members(group, "lost the race")
                if node.ok:
                    self._settle(group, True, (node.slot, node.value))
                else:
                    self._settle(group, False, node.value)
                return
            if not node.ok:
                self._cancel_members(group, "a sibling failed")
                self._settle(group, False, node.value)
                return
        if group.kind == "map" and not group.done:
            if last is not None:
                group.running -= 1
            while group.next_index < len(group.queued) and group.running < group.limit:
                self._start_map_member(group)
        if group.remaining == 0 and not group.done:
            self._settle(group, True, list(group.results))

    def _inner_settled(self, scope: Deadline, inner: Node) -> None:
        if scope.done:
            return
        self._pending.pop(scope.ordinal, None)
        if not self._outcome_recorded(scope.ordinal):
            self._decide(
                CommandCancelled, {"ordinal": scope.ordinal, "reason": "inner command settled"}
            )
        self._settle(scope, inner.ok, inner.value)

    def _outcome_recorded(self, ordinal: int) -> bool:
        """Whether ``ordinal``'s final outcome follows the event being applied.

        Outcomes committed together are applied one by one (lowest ordinal
        first), so when one of them settles a group or a deadline, a sibling's
        outcome may already be in history. That sibling is settled, not
        cancelled: a history never records a cancellation after an outcome.
        Read from the events alone, so live runs and replays agree.
        """
        if not self._settled_first:
            return False
        ahead = self._ahead
        if ahead is None:
            ahead = self._ahead = _final_outcomes_after(self._tail, self.last_seq)
        return ordinal in ahead

    def _cancel_members(self, group: Group, reason: str) -> None:
        for member in group.members:
            if member is not None and not member.done:
                self._cancel(member, reason)

    def _cancel(self, node: Node, reason: str) -> None:
        """Cancel a pending subtree, recording a cancellation for every pending command."""
        if node.done:
            return
        node.done, node.ok, node.value = True, False, None
        if isinstance(node, Group):
            self._cancel_members(node, reason)
        elif isinstance(node, Deadline):
            if node.inner is not None:
                self._cancel(node.inner, reason)
        elif node.kind == "signal":
            receivers = self._receivers.get(node.name)
            if receivers is not None and node in receivers:
                receivers.remove(node)
        self._pending.pop(node.ordinal, None)
        if node.kind != "value" and not self._outcome_recorded(node.ordinal):
            self._decide(CommandCancelled, {"ordinal": node.ordinal, "reason": reason})

    def _cancel_all(self, reason: str) -> None:
        root, self._root = self._root, None
        if root is not None:
            self._cancel(root, reason)

    # --- outcome handlers -------------------------------------------------------------

    def _on_activity_completed(self, event: ActivityCompleted) -> None:
        node = self._pending.get(event.ordinal)
        if not isinstance(node, ActivityNode):
            return
        value = node.decode(event.result)
        if value is _codec.NOT_QUICK:
            value = decode_result(node, event)
        if node.parent is None and not node.done:
            # `_settle` for the common case (a top-level call), inlined: once per call.
            node.done, node.value = True, value
            del self._pending[node.ordinal]
            if node is self._root:
                self._resume(True, value)
            return
        self._settle(node, True, value)

    def _on_activity_failed(self, event: ActivityFailed) -> None:
        node = self._pending.get(event.ordinal)
        if not isinstance(node, ActivityNode) or event.retry_at is not None:
            return
        err = ActivityError(node.name, event.error.type, event.error.message, event.attempt)
        self._settle(node, False, err)

    def _on_timer_fired(self, event: TimerFired) -> None:
        node = self._pending.get(event.ordinal)
        if node is None:
            return
        if isinstance(node, Deadline):
            self._pending.pop(node.ordinal, None)
            if node.inner is not None:
                self._cancel(node.inner, "deadline expired")
            self._settle(node, False, Timeout(node.ordinal, node.seconds))
        else:
            self._settle(node, True, None)

    def _on_signal(self, event: SignalReceived) -> None:
        receivers = self._receivers.get(event.name)
        if receivers:
            self._settle(receivers.popleft(), True, event.payload)
        else:
            self._signals.setdefault(event.name, deque()).append(event.payload)

    def _on_signal_delivered(self, event: SignalDelivered) -> None:
        node = self._pending.get(event.ordinal)
        if node is not None:
            self._settle(node, True, None)

    def _on_signal_failed(self, event: SignalDeliveryFailed) -> None:
        node = self._pending.get(event.ordinal)
        if node is not None:
            self._settle(node, False, SignalDeliveryError(event.reason))

    def _on_child_completed(self, event: ChildCompleted) -> None:
        node = self._pending.get(event.ordinal)
        if node is not None:
            self._settle(node, True, event.result)

    def _on_child_failed(self, event: ChildFailed) -> None:
        node = self._pending.get(event.ordinal)
        if node is not None:
            err = ChildWorkflowError(
                event.child_id, event.status, event.error.type, event.error.message
            )
            self._settle(node, False, err)

    def _on_cancel_requested(self, event: CancelRequested) -> None:
        if event.terminate:
            self._terminate(event.reason)
            return
        if self._cancelling or self._gen is None:
            return
        self._cancelling = True
        self._cancel_all("workflow cancelled")
        self._resume(False, Cancelled(event.reason))


def decode_result(node: ActivityNode, event: ActivityCompleted) -> Any:
    """The recorded result structured into the call's return type, or a `Stall` saying why.

    The slow path: callers try ``node.decode`` (the quick shapes) first.
    """
    try:
        return _codec.from_jsonable(
            event.result,
            node.result_type,
            f"the recorded result of activity {node.name!r} (seq {event.seq})",
        )
    except CodecError as exc:
        raise Stall(str(exc)) from None


_FINAL_OUTCOMES = (
    ActivityCompleted,
    TimerFired,
    SignalDelivered,
    SignalDeliveryFailed,
    ChildCompleted,
    ChildFailed,
)


def _final_ordinal(event: Event) -> int | None:
    """The command ``event`` settles for good, if it does (a failure due a retry does not)."""
    if isinstance(event, ActivityFailed):
        return event.ordinal if event.retry_at is None else None
    if isinstance(event, _FINAL_OUTCOMES):
        return event.ordinal
    return None


def _final_outcomes_after(events: Sequence[Event], seq: int) -> frozenset[int]:
    """Ordinals settled by the outcomes right after ``seq`` (up to the next decision)."""
    if not events:
        return frozenset()
    i = seq - events[0].seq
    if not (0 <= i < len(events) and events[i].seq == seq):
        i = next((k for k, e in enumerate(events) if e.seq == seq), len(events))
    out: set[int] = set()
    for event in events[i + 1 :]:
        if event.FAMILY != "outcome":
            break
        ordinal = _final_ordinal(event)
        if ordinal is not None:
            out.add(ordinal)
    return frozenset(out)


#: The outcome handler of each outcome class (what `Interpreter.apply` dispatches on).
HANDLERS: dict[type[Event], Callable[[PendingTree, Any], None]] = {
    ActivityCompleted: PendingTree._on_activity_completed,
    ActivityFailed: PendingTree._on_activity_failed,
    TimerFired: PendingTree._on_timer_fired,
    SignalReceived: PendingTree._on_signal,
    SignalDelivered: PendingTree._on_signal_delivered,
    SignalDeliveryFailed: PendingTree._on_signal_failed,
    ChildCompleted: PendingTree._on_child_completed,
    ChildFailed: PendingTree._on_child_failed,
    CancelRequested: PendingTree._on_cancel_requested,
}
