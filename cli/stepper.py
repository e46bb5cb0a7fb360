"""The offline debugger's engine: feed a recorded history to the workflow one event at a time.

Nothing runs for real. The workflow's own generator is driven by the same
interpreter that replays it, so at every step it is suspended exactly where
it was when that event was recorded, and its frame (arguments and local
variables) can be read. `Stepper` knows nothing about terminals; the
``debug`` command renders what it reports.
"""

from __future__ import annotations

import linecache
import os
from collections.abc import Sequence
from types import FrameType
from typing import Any

from aion import NondeterminismError
from aion.events import Event, WorkflowStarted
from aion.interpreter import Interpreter, Registry

from .loader import Code


class Stepper:
    """Steps one history through its workflow code.

    Args:
        workflow_id: The workflow's id (used in reports and seeded values).
        events: The history, all runs.
        code: Where the workflow and activities are defined.
    """

    def __init__(self, workflow_id: str, events: Sequence[Event], code: Code) -> None:
        self.workflow_id = workflow_id
        self.events = list(events)
        self.registry = Registry(code.workflows.values(), code.activities.values())
        self.position = 0
        self.interp: Interpreter | None = None
        self.seq_breaks: set[int] = set()
        self.line_breaks: set[tuple[str, int]] = set()
        self._starts = [i for i, e in enumerate(self.events) if isinstance(e, WorkflowStarted)]

    # --- stepping -----------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether every recorded event has been fed."""
        return self.position >= len(self.events)

    @property
    def consumed(self) -> list[Event]:
        """The events fed so far."""
        return self.events[: self.position]

    @property
    def divergence(self) -> NondeterminismError | None:
        """The divergence that stopped the replay, if any."""
        div = self.interp.divergence if self.interp is not None else None
        return div if isinstance(div, NondeterminismError) else None

    def step(self) -> Event | None:
        """Feed the next event; returns it (None at the end)."""
        if self.finished:
            return None
        event = self.events[self.position]
        self.position += 1
        if isinstance(event, WorkflowStarted):
            end = next((i for i in self._starts if i > self.position - 1), len(self.events))
            segment = self.events[self.position - 1 : end]
            definition = self.registry.workflow(event.name)
            self.interp = Interpreter(
                workflow_id=self.workflow_id,
                started=event,
                definition=definition,
                registry=self.registry,
                recorded=[e for e in segment if e.FAMILY == "decision"],
                history=segment,
            )
            self.interp.start()
        elif self.interp is not None:
            self.interp.feed(event)
        return event

    def at_breakpoint(self, event: Event) -> bool:
        """Whether the step that fed ``event`` hit a seq or line breakpoint."""
        if event.seq in self.seq_breaks:
            return True
        where = self.location()
        if where is None or not self.line_breaks:
            return False
        path, line = where
        return any(
            line == bl and (path == bp or path.endswith(os.sep + bp)) for bp, bl in self.line_breaks
        )

    def run(self) -> Event | None:
        """Feed events until a breakpoint, a divergence or the end; returns the last fed."""
        last = None
        while not self.finished:
            last = self.step()
            if last is None or self.divergence is not None or self.at_breakpoint(last):
                break
        return last

    # --- looking --------------------------------------------------------------------------

    def frame(self) -> FrameType | None:
        """The innermost frame the workflow is suspended in (follows ``yield from``)."""
        gen: Any = self.interp._gen if self.interp is not None else None
        if gen is None:
            return None
        while True:
            sub = getattr(gen, "gi_yieldfrom", None)
            if sub is None or getattr(sub, "gi_frame", None) is None:
                break
            gen = sub
        frame: FrameType | None = gen.gi_frame
        return frame

    def locals(self) -> dict[str, Any]:
        """The suspended frame's local variables (empty once the workflow has returned)."""
        frame = self.frame()
        if frame is None:
            return {}
        return {k: v for k, v in frame.f_locals.items() if not k.startswith("__")}

    def location(self) -> tuple[str, int] | None:
        """``(file, line)`` where the workflow is suspended, or None."""
        frame = self.frame()
        if frame is None:
            return None
        return frame.f_code.co_filename, frame.f_lineno

    def source_context(self, around: int = 2) -> list[tuple[int, str, bool]]:
        """Source lines around the suspension point: ``(number, text, is_current)``."""
        where = self.location()
        if where is None:
            return []
        path, line = where
        out = []
        for number in range(max(1, line - around), line + around + 1):
            text = linecache.getline(path, number)
            if not text and number > line:
                break
            out.append((number, text.rstrip("\n"), number == line))
        return out

    def status(self) -> str:
        """Where the workflow code stands: ``running``, ``completed``, ``failed``..."""
        return self.interp.status if self.interp is not None else "not started"


def parse_break(arg: str) -> tuple[int | None, tuple[str, int] | None]:
    """``SEQ`` or ``FILE:LINE`` into a seq breakpoint or a line breakpoint."""
    if arg.isdigit():
        return int(arg), None
    path, _, line = arg.rpartition(":")
    if path and line.isdigit():
        return None, (os.path.normpath(path), int(line))
    return None, None
