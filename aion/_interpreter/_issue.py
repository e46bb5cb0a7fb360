"""Issuing commands: each yielded command becomes a pending node and a decision.

`Issuer` holds the rules that give a command its ordinal, record what it
decides, and build the node that waits for its value; it stands on
`PendingTree` (how nodes settle), and `Interpreter` inherits both and owns
the state they read and write.
"""

from __future__ import annotations

import random as _random
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aion import _codec
from aion._codec import quick_decoder
from aion._commands import (
    UUID4,
    AwaitChild,
    Call,
    ChildHandle,
    CollectAll,
    CollectMap,
    CollectRace,
    Command,
    Now,
    OnQuery,
    ParentClose,
    Patched,
    Random,
    ReceiveSignal,
    SendSignal,
    Sleep,
    StartChild,
    WithTimeout,
)
from aion._definitions import DEFAULT_RETRY, Registry
from aion._events import (
    ActivityScheduled,
    ChildAwaited,
    ChildStarted,
    Decision,
    Event,
    GroupStarted,
    PatchRecorded,
    SignalAwaited,
    SignalSent,
    TimeoutStarted,
    TimerStarted,
    WorkflowStarted,
)
from aion._interpreter._matching import same_call, same_command, same_recorded_call
from aion._interpreter._nodes import ActivityNode, Deadline, Group, Node
from aion._interpreter._support import call_options, policy_json, seed, source_of
from aion._interpreter._tree import PendingTree


class Issuer(PendingTree):
    """Turns commands into nodes and decisions (inherited by `Interpreter`)."""

    workflow_id: str
    run_id: str
    started: WorkflowStarted
    registry: Registry | None
    recorded: Sequence[Event]
    now: datetime
    new_decisions: list[Decision]
    _issued: int
    _next_ordinal: int
    _draws: int
    _pending: dict[int, Node]
    _receivers: dict[str, deque[Node]]
    _signals: dict[str, deque[Any]]
    _queries: dict[str, Callable[..., Any]]
    _awaited_children: dict[int, str]
    _detached_children: dict[int, tuple[str, str]]

    def current_source(self) -> str:
        """``file:line`` where the generator is suspended now ("" when it is not).

        A replayed call's node records no source of its own: its run is still
        suspended at that call's yield while the call is pending, so this is it.
        """
        return source_of(self._gen) if self._gen is not None else ""

    @property
    def replaying(self) -> bool:
        """Whether recorded decisions remain that the code has not reached yet."""
        return self._issued < len(self.recorded)

    def _ordinal(self) -> int:
        ordinal = self._next_ordinal
        self._next_ordinal += 1
        self._draws = 0
        return ordinal

    def _issue(self, command: Command[Any], parent: Node | None, source: str) -> Node:
        """Give ``command`` its ordinal, record it, and return its (maybe settled) node."""
        issue = ISSUERS.get(type(command))
        if issue is None:  # pragma: no cover - every Command subclass has an issuer
            msg = f"no issuer for {type(command).__name__}"
            raise TypeError(msg)
        return issue(self, command, parent, source)

    def _immediate(self, value: Any, ok: bool = True) -> Node:
        node = Node("value", 0, "", "")
        node.done, node.ok, node.value = True, ok, value
        return node

    def _issue_call(
        self, cmd: Call, parent: Node | None, source: str | None, ordinal: int = 0
    ) -> Node:
        if not ordinal:  # self._ordinal(), inlined: this runs for every call
            ordinal = self._next_ordinal
            self._next_ordinal = ordinal + 1
            self._draws = 0
        definition = cmd.definition
        if definition is None and self.registry is not None:
            definition = self.registry.activities.get(cmd.activity)
        index = self._issued
        recorded = self.recorded
        if index < len(recorded) and same_recorded_call(
            recorded[index], ordinal, cmd.activity, cmd.args, cmd.kwargs
        ):
            # Replay's common case, the recorded call: compared value by value, with no
            # digest to compute and nothing to convert (a match proves the values plain).
            self._issued = index + 1
            result_type = definition.return_type if definition else Any
            node = ActivityNode(
                ordinal, cmd.activity, source or "", result_type, quick_decoder(result_type)
            )
            self._pending[ordinal] = node
            return node
        if source is None:  # a top-level call, not the recorded one: now its line matters
            source = self.current_source()
        args = list(cmd.args)
        if not _codec.is_plain(args):
            args = _codec.to_jsonable(args, f"the arguments of activity {cmd.activity!r}")
        kwargs = dict(cmd.kwargs)
        if kwargs and not _codec.is_plain(kwargs):
            kwargs = _codec.to_jsonable(kwargs, f"the arguments of activity {cmd.activity!r}")
        digest = _codec.digest_call(cmd.activity, args, kwargs)
        match = recorded[index] if index < len(recorded) else None
        if match is not None and same_command(match, ActivityScheduled, ordinal, digest):
            # Replay's common case: the recorded call, matched on what matching reads.
            # The full decision is only built when it is new or differs.
            self._issued = index + 1
        elif (
            match is not None
            and definition is not None
            and same_call(match, ordinal, cmd.activity, definition.fn, args, kwargs)
        ):
            digest = match.digest  # the same call, passed by keyword instead of position
            self._issued = index + 1
        else:
            if cmd.retry is None and cmd.timeout is None:  # the definition's, converted once
                retry, seconds = call_options(definition)
            else:
                policy = cmd.retry or (definition.retry if definition else DEFAULT_RETRY)
                timeout = (
                    cmd.timeout
                    if cmd.timeout is not None
                    else (definition.timeout if definition else None)
                )
                retry = policy_json(policy)
                seconds = timeout.total_seconds() if timeout is not None else None
            fields = {
                "ordinal": ordinal,
                "source": source,
                "digest": digest,
                "name": cmd.activity,
                "args": args,
                "kwargs": kwargs,
                "retry": retry,
                "timeout": seconds,
            }
            if match is None:  # live: a new decision, nothing recorded to compare it with
                self._issued = index + 1
                self.new_decisions.append(Decision(kind=ActivityScheduled, fields=fields))
            else:
                self._decide(ActivityScheduled, fields)
        result_type = definition.return_type if definition else Any
        node = ActivityNode(ordinal, cmd.activity, source, result_type, quick_decoder(result_type))
        self._pending[ordinal] = node
        return node

    def _issue_sleep(self, cmd: Sleep, parent: Node | None, source: str) -> Node:
        ordinal = self._ordinal()
        seconds = cmd.duration.total_seconds()
        self._decide(
            TimerStarted,
            {
                "ordinal": ordinal,
                "source": source,
                "digest": _codec.digest("sleep", seconds),
                "fire_at": self.now + cmd.duration,
                "seconds": seconds,
            },
        )
        node = Node("timer", ordinal, f"sleep {seconds:g}s", source)
        self._pending[ordinal] = node
        return node

    def _issue_now(self, cmd: Now, parent: Node | None, source: str) -> Node:
        return self._immediate(self.now)

    def _draw(self) -> bytes:
        self._draws += 1
        origin = self.started.origin
        if origin is not None:  # a reset or fork repeats its origin's draws
            return seed(origin.workflow_id, origin.run_id, self._next_ordinal, self._draws)
        return seed(self.workflow_id, self.run_id, self._next_ordinal, self._draws)

    def _issue_random(self, cmd: Random, parent: Node | None, source: str) -> Node:
        return self._immediate(_random.Random(self._draw()).random())

    def _issue_uuid(self, cmd: UUID4, parent: Node | None, source: str) -> Node:
        return self._immediate(uuid.UUID(bytes=self._draw(), version=4))

    def _issue_on_query(self, cmd: OnQuery, parent: Node | None, source: str) -> Node:
        self._queries[cmd.name] = cmd.handler
        return self._immediate(None)

    def _issue_patched(self, cmd: Patched, parent: Node | None, source: str) -> Node:
        if self.replaying:
            upcoming = self.recorded[self._issued]
            if not (isinstance(upcoming, PatchRecorded) and upcoming.name == cmd.change_id):
                return self._immediate(False)  # history predates the change: old path
        ordinal = self._ordinal()
        self._decide(
            PatchRecorded,
            {
                "ordinal": ordinal,
                "source": source,
                "digest": _codec.digest("patch", cmd.change_id),
                "name": cmd.change_id,
            },
        )
        return self._immediate(True)

    def _issue_receive(self, cmd: ReceiveSignal, parent: Node | None, source: str) -> Node:
        ordinal = self._ordinal()
        self._decide(
            SignalAwaited,
            {
                "ordinal": ordinal,
                "source": source,
                "digest": _codec.digest("signal", cmd.name),
                "name": cmd.name,
            },
        )
        node = Node("signal", ordinal, cmd.name, source)
        buffered = self._signals.get(cmd.name)
        if buffered:
            node.done, node.value = True, buffered.popleft()
            return node
        self._receivers.setdefault(cmd.name, deque()).append(node)
        return node

    def _issue_send(self, cmd: SendSignal, parent: Node | None, source: str) -> Node:
        ordinal = self._ordinal()
        payload = _codec.to_jsonable(cmd.payload, f"the payload of signal {cmd.name!r}")
        self._decide(
            SignalSent,
            {
                "ordinal": ordinal,
                "source": source,
                "digest": _codec.digest("send", cmd.workflow_id, cmd.name, payload),
                "name": cmd.name,
                "target": cmd.workflow_id,
                "payload": payload,
            },
        )
        node = Node("send", ordinal, cmd.name, source)
        self._pending[ordinal] = node
        return node

    def _child_id(self, ordinal: int, explicit: str | None) -> str:
        if explicit:
            return explicit
        origin = self.started.origin
        if origin is not None and ordinal <= origin.last_ordinal:
            return f"{origin.child_prefix}/{ordinal}"  # the child its origin started
        if self.started.previous_run_id is None:
            return f"{self.workflow_id}/{ordinal}"
        return f"{self.workflow_id}/{self.run_id[:8]}/{ordinal}"

    def _start_child(
        self,
        workflow: str,
        args: tuple[Any, ...],
        workflow_id: str | None,
        awaited: bool,
        source: str,
        parent_close: str = ParentClose.PROPAGATE_CANCEL.value,
    ) -> tuple[int, str]:
        ordinal = self._ordinal()
        child_id = self._child_id(ordinal, workflow_id)
        json_args = _codec.to_jsonable(list(args), f"the arguments of child workflow {workflow!r}")
        index = self._issued
        self._decide(
            ChildStarted,
            {
                "ordinal": ordinal,
                "source": source,
                "digest": _codec.digest("child", workflow, child_id, json_args),
                "name": workflow,
                "child_id": child_id,
                "args": json_args,
                "awaited": awaited,
                "parent_close": parent_close,
            },
        )
        if awaited:
            self._awaited_children[ordinal] = child_id
        else:
            recorded = self.recorded[index] if index < len(self.recorded) else None
            if isinstance(recorded, ChildStarted):
                parent_close = recorded.parent_close  # the recorded policy governs
            self._detached_children[ordinal] = (child_id, parent_close)
        return ordinal, child_id

    def _issue_start_child(self, cmd: StartChild, parent: Node | None, source: str) -> Node:
        _, child_id = self._start_child(
            cmd.workflow, cmd.args, cmd.workflow_id, False, source, cmd.parent_close.value
        )
        return self._immediate(ChildHandle(workflow_id=child_id, workflow=cmd.workflow))

    def _issue_await_child(self, cmd: AwaitChild, parent: Node | None, source: str) -> Node:
        if cmd.handle is not None:
            ordinal = self._ordinal()
            child_id = cmd.handle.workflow_id
            self._decide(
                ChildAwaited,
                {
                    "ordinal": ordinal,
                    "source": source,
                    "digest": _codec.digest("await", child_id),
                    "name": cmd.handle.workflow,
                    "child_id": child_id,
                },
            )
        else:
            assert cmd.workflow is not None
            ordinal, child_id = self._start_child(
                cmd.workflow, cmd.args, cmd.workflow_id, True, source
            )
        node = Node("child", ordinal, child_id, source)
        self._pending[ordinal] = node
        return node

    def _issue_group(self, cmd: Command[Any], parent: Node | None, source: str) -> Node:
        members: tuple[Command[Any], ...]
        if isinstance(cmd, CollectMap):
            mode, members, concurrency = "map", cmd.calls, cmd.concurrency
        else:
            assert isinstance(cmd, CollectAll | CollectRace)
            mode = "all" if isinstance(cmd, CollectAll) else "race"
            members, concurrency = cmd.commands, None
        ordinal = self._ordinal()
        self._decide(
            GroupStarted,
            {
                "ordinal": ordinal,
                "source": source,
                "digest": _codec.digest("group", mode, len(members), concurrency),
                "name": mode,
                "size": len(members),
                "concurrency": concurrency,
            },
        )
        group = Group(mode, ordinal, source, len(members))
        if mode == "map":
            # Reserve the whole block now so member ordinals never depend on timing.
            group.queued = list(members)
            group.base = self._next_ordinal
            group.limit = concurrency or len(members)
            self._next_ordinal += len(members)
            while group.next_index < len(members) and group.running < group.limit:
                self._start_map_member(group)
        else:
            for i, member in enumerate(members):
                node = self._issue(member, group, source)
                self._attach(group, node, i)
        group.issuing = False
        self._evaluate_group(group)
        return group

    def _start_map_member(self, group: Group) -> None:
        i = group.next_index
        group.next_index += 1
        group.running += 1
        node = self._issue_call(group.queued[i], group, group.source, ordinal=group.base + i)
        self._attach(group, node, i)

    def _attach(self, parent: Group | Deadline, node: Node, slot: int) -> None:
        node.parent = parent
        node.slot = slot
        if isinstance(parent, Group):
            parent.members[slot] = node
            if node.done:
                self._member_settled(parent, node)
        else:
            parent.inner = node

    def _issue_timeout(self, cmd: WithTimeout, parent: Node | None, source: str) -> Node:
        ordinal = self._ordinal()
        seconds = cmd.duration.total_seconds()
        self._decide(
            TimeoutStarted,
            {
                "ordinal": ordinal,
                "source": source,
                "digest": _codec.digest("timeout", seconds),
                "fire_at": self.now + cmd.duration,
                "seconds": seconds,
            },
        )
        scope = Deadline(ordinal, source, seconds)
        self._pending[ordinal] = scope
        inner = self._issue(cmd.command, scope, source)
        self._attach(scope, inner, 0)
        scope.issuing = False
        if inner.done:
            self._inner_settled(scope, inner)
        return scope

    # --- settling and cancelling ---------------------------------------------------


ISSUERS: dict[type[Any], Callable[..., Node]] = {
    Call: Issuer._issue_call,
    Sleep: Issuer._issue_sleep,
    Now: Issuer._issue_now,
    Random: Issuer._issue_random,
    UUID4: Issuer._issue_uuid,
    OnQuery: Issuer._issue_on_query,
    Patched: Issuer._issue_patched,
    ReceiveSignal: Issuer._issue_receive,
    SendSignal: Issuer._issue_send,
    StartChild: Issuer._issue_start_child,
    AwaitChild: Issuer._issue_await_child,
    CollectAll: Issuer._issue_group,
    CollectRace: Issuer._issue_group,
    CollectMap: Issuer._issue_group,
    WithTimeout: Issuer._issue_timeout,
}
