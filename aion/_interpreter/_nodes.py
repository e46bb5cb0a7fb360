"""The pending-command tree: one node per command awaiting its value.

Nodes are plain slotted records; the rules that settle and cancel them live in
the interpreter. A composite (group or timeout) owns its members as children,
so cancelling a subtree is a walk, and a settled member tells its parent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Node:
    """A command waiting for its value (a leaf: activity, timer, signal, child, send)."""

    __slots__ = ("done", "kind", "name", "ok", "ordinal", "parent", "slot", "source", "value")

    def __init__(self, kind: str, ordinal: int, name: str, source: str) -> None:
        self.kind = kind
        self.ordinal = ordinal
        self.name = name
        self.source = source
        self.parent: Group | Deadline | None = None
        self.slot = 0
        self.done = False
        self.ok = True
        self.value: Any = None


class ActivityNode(Node):
    """A `call` in flight: knows how to decode its result."""

    __slots__ = ("decode", "result_type")

    def __init__(
        self,
        ordinal: int,
        name: str,
        source: str,
        result_type: Any,
        decode: Callable[[Any], Any],
    ) -> None:
        # Node.__init__ inlined: one of these is built for every call, replayed or live.
        self.kind = "activity"
        self.ordinal = ordinal
        self.name = name
        self.source = source
        self.parent: Group | Deadline | None = None
        self.slot = 0
        self.done = False
        self.ok = True
        self.value: Any = None
        self.result_type = result_type
        self.decode = decode  # `_codec.quick_decoder(result_type)`


class Group(Node):
    """`collect_all` / `collect_race` / `collect_map` over member nodes."""

    __slots__ = (
        "base",
        "issuing",
        "limit",
        "members",
        "next_index",
        "queued",
        "remaining",
        "results",
        "running",
    )

    def __init__(self, mode: str, ordinal: int, source: str, size: int) -> None:
        super().__init__(mode, ordinal, mode, source)
        self.members: list[Node | None] = [None] * size
        self.results: list[Any] = [None] * size
        self.remaining = size
        self.issuing = True
        # collect_map only: calls not yet issued, the next index to issue, how many run.
        self.queued: list[Any] = []
        self.next_index = 0
        self.running = 0
        self.base = 0
        self.limit = size


class Deadline(Node):
    """`with_timeout`: the scope's deadline timer (this node's ordinal) and its inner node."""

    __slots__ = ("inner", "issuing", "seconds")

    def __init__(self, ordinal: int, source: str, seconds: float) -> None:
        super().__init__("timeout", ordinal, "with_timeout", source)
        self.inner: Node | None = None
        self.seconds = seconds
        self.issuing = True
