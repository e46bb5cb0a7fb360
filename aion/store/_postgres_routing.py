"""Routing a worker's batch: events for workflows another session owns become inbox rows.

A worker's step may write into workflows it does not drive: a signal sent by
one of its workflows, a cancel cascading to a child, a child's end told to
its parent. On one process those are events in the same batch; with many
workers the target may belong to another session, whose epoch fence would
refuse them. So, inside the same transaction (after the rows are locked),
such events are turned into inbox messages for the target's owner, which
records them as its own events when it consumes the message: record, then
act, with the message written atomically with the decision that caused it.

Also inside that transaction, a workflow of the batch that ends while its
parent belongs to someone else gets a ``child`` message posted to the parent,
so the parent's owner learns of the outcome without polling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from aion import _codec
from aion._errors import FencedError
from aion._events import (
    CancelRequested,
    ChildCompleted,
    ChildFailed,
    Event,
    SignalReceived,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
)
from aion.store._postgres_fold import Row
from aion.store._postgres_leases import Fence
from aion.store._protocol import Append

_ENDS = (WorkflowCompleted, WorkflowFailed, WorkflowCancelled)


@attrs.frozen(kw_only=True)
class Post:
    """An inbox message a routed batch writes: target, kind and JSON payload text."""

    workflow_id: str
    kind: str
    payload: str


def message_for(event: Event) -> tuple[str, dict[str, object]]:
    """The inbox ``(kind, payload)`` that carries ``event`` to another owner.

    Raises:
        aion.store.FencedError: The event is not one a worker may send to a workflow
            it does not own (only signals, cancel requests and child outcomes are).
    """
    if isinstance(event, SignalReceived):
        return "signal", {"name": event.name, "payload": event.payload, "sender": event.sender}
    if isinstance(event, CancelRequested):
        if event.terminate:
            return "cancel", {"reason": event.reason, "terminate": True}
        return "cancel", {"reason": event.reason}
    if isinstance(event, ChildCompleted | ChildFailed):
        return "child", {"child_id": event.child_id}
    msg = f"a {type(event).__name__} may only be written by the workflow's owner."
    raise FencedError(msg, workflow_id="")


def route(
    batch: Sequence[Append], rows: Mapping[str, Row], fence: Fence
) -> tuple[list[Append], list[Post]]:
    """Split ``batch`` into the appends the session may write and the messages to post.

    A workflow is the session's own when its row names the session as owner
    (the epoch is checked afterwards by the fence) or when the batch creates
    it; every other existing workflow is foreign.
    """
    kept: list[Append] = []
    posts: list[Post] = []
    for item in batch:
        row = rows.get(item.workflow_id)
        foreign = (
            row is not None
            and row.owner != fence.session_id
            and item.workflow_id not in fence.epochs
        )
        if not foreign:
            kept.append(item)
            continue
        for event in item.events:
            try:
                kind, payload = message_for(event)
            except FencedError as exc:
                owner = row.owner if row else None
                msg = f"workflow {item.workflow_id!r} belongs to session {owner}: {exc}"
                raise FencedError(
                    msg,
                    workflow_id=item.workflow_id,
                ) from None
            posts.append(
                Post(workflow_id=item.workflow_id, kind=kind, payload=_codec.dumps(payload))
            )
    for item in kept:
        parent = _parent(item, rows.get(item.workflow_id))
        if parent is None or parent in fence.epochs:
            continue
        if any(isinstance(event, _ENDS) for event in item.events):
            text = _codec.dumps({"child_id": item.workflow_id})
            posts.append(Post(workflow_id=parent, kind="child", payload=text))
    return kept, posts


def _parent(item: Append, row: Row | None) -> str | None:
    if row is not None and row.parent_id is not None:
        return row.parent_id
    for event in item.events:
        if isinstance(event, WorkflowStarted):
            return event.parent_id
    return None
