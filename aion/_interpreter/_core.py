"""The interpreter: drives one run's generator as a pure function of its events.

No I/O, no clock, no store. The engine and the replayer feed it the same thing,
the run's events in recorded order, and it answers with decisions:

* Outcome events (activity results, timer fires, signals, ...) are applied in
  order; each may settle pending commands and resume the generator, which
  then yields new commands.
* Every decision the code makes (a command, a cancellation, the run's end) is
  numbered. The k-th decision must equal the k-th decision recorded in the
  run (kind, ordinal, name and argument digest); decisions past the recorded
  ones are new, and the engine records them before acting on them.
* A recorded decision reached in the stream before the code made it means the
  code now waits where it used to act: that is a divergence too.

Live and replay therefore differ only in where events come from, which is
what makes a recovered run continue exactly where it stopped.
"""

from __future__ import annotations

import traceback
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from datetime import datetime
from typing import Any

from aion import _codec
from aion._commands import (
    ContinueAsNew,
    ParentClose,
)
from aion._definitions import Registry, WorkflowDefinition
from aion._errors import (
    AionError,
    CodecError,
)
from aion._events import (
    CancelRequested,
    Decision,
    Event,
    SignalReceived,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStarted,
)
from aion._interpreter._divergence import Diverged, describe_decision, divergence_error
from aion._interpreter._driving import Driver
from aion._interpreter._matching import same_decision
from aion._interpreter._nodes import Node
from aion._interpreter._support import (
    answer_query,
    argument_problem,
    decode_args,
    is_interrupt,
    seed,
)
from aion._interpreter._tree import HANDLERS, Stall
from aion._interpreter._watchdog import DEFAULT_BUDGET, WATCHDOG, Guard


class Interpreter(Driver):
    """Drives one run of a workflow generator from its events.

    Attributes:
        workflow_id: The workflow being driven.
        run_id: The run being driven.
        status: ``running``, ``completed``, ``failed``, ``cancelled``,
            ``continued_as_new`` or ``stalled``.
        new_decisions: Decisions past the recorded ones, for the engine to
            record (and then act on); the engine drains this list.
        divergence: The `NondeterminismError` that stalled the run, if any.
        stall_reason: Why the run stalled, if it did.
        result: The run's result once completed.
        error: The exception a failed run raised (or its recorded description).
        step_budget: Seconds the workflow may run between two yields before
            the watchdog stops it and the run stalls naming the line (class-wide
            default from ``AION_STEP_BUDGET``, 10; 0 or None disables it).
    """

    step_budget: float | None = DEFAULT_BUDGET

    def __init__(
        self,
        *,
        workflow_id: str,
        started: WorkflowStarted,
        definition: WorkflowDefinition,
        registry: Registry | None = None,
        recorded: Sequence[Event] = (),
        history: Sequence[Event] = (),
    ) -> None:
        self.workflow_id = workflow_id
        self.run_id = started.run_id
        self.started = started
        self.definition = definition
        self.registry = registry
        self.recorded = recorded
        self.history = history
        self.status = "running"
        self.new_decisions: list[Decision] = []
        self.divergence: AionError | None = None
        self.stall_reason: str | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.now: datetime = started.recorded_at
        self.last_seq = started.seq
        self._issued = 0
        self._seen_decisions = 0
        self._next_ordinal = 1
        self._draws = 0
        self._gen: Generator[Any, Any, Any] | None = None
        self._root: Node | None = None
        self._pending: dict[int, Node] = {}
        self._receivers: dict[str, deque[Node]] = {}
        self._signals: dict[str, deque[Any]] = {}
        self._queries: dict[str, Callable[..., Any]] = {}
        self._cancelling = False
        self._late_cancel: CancelRequested | None = None
        # Children this run started: awaited ones by the ordinal of the await that
        # started them (cancelling it cancels the child), the others with their
        # parent-close policy (applied when the run ends).
        self._awaited_children: dict[int, str] = {}
        self._detached_children: dict[int, tuple[str, str]] = {}
        # Semantics 2: a command whose final outcome is already recorded (later in the
        # same run of outcomes) is never cancelled. `_tail` is where that is read:
        # the run's history on replay, the batch just committed live.
        self._settled_first = started.semantics_version >= 2
        self._tail: Sequence[Event] = history
        self._ahead: frozenset[int] | None = None
        self._held: Guard | None = None  # the watchdog guard a replay holds (`replay_from`)

    # --- entry points -------------------------------------------------------------

    def replay_from(self, events: Iterable[Event], *, stop_at_stall: bool = False) -> None:
        """`start`, then `feed` each recorded event (after a stall too, unless told to stop).

        The watchdog guard is taken once for the whole replay rather than once
        per stretch of workflow code: each stretch is still timed against the
        step budget, at the cost of a few attribute writes instead of two calls.
        """
        guard = WATCHDOG.hold() if self.step_budget else None
        self._held = guard
        try:
            self.start()
            self.replay_events(events, stop_at_stall)
        finally:
            self._held = None
            if guard is not None:
                WATCHDOG.unhold(guard)

    def start(self) -> None:
        """Create the generator from the recorded input and run it to its first wait."""
        try:
            fn = self.definition.fn
            args = decode_args(fn, self.started.args, "workflow input")
            problem = argument_problem(fn, args)
            if problem is not None:
                # A history written by older code, or made by hand: the recorded
                # input no longer fits. Stall (deploy code that accepts it and the
                # run resumes); never let it stop the engine that opens the file.
                msg = (
                    f"the recorded input of workflow {self.definition.name!r} does not fit "
                    f"its code: {problem}."
                )
                raise Stall(msg)
            self._gen = fn(*args)
            self._resume(True, None)
        except (Diverged, Stall, CodecError) as exc:
            self._stall(exc)

    def feed(self, event: Event) -> None:
        """Consume the next recorded event of the run (replay)."""
        family = event.FAMILY
        if family == "outcome":
            self.apply(event)
            return
        self.last_seq = event.seq
        self._ahead = None
        if family == "decision":
            index = self._seen_decisions
            self._seen_decisions += 1
            if self.status == "stalled" or index < self._issued:
                return
            try:
                raise Diverged(event, None, self._waiting_description())
            except Diverged as exc:
                self._stall(exc)

    def apply(self, event: Event, batch: Sequence[Event] = ()) -> None:
        """Apply an outcome event (recorded or just committed) and run the code on.

        Args:
            event: The outcome.
            batch: The events committed with it (this workflow's, in order), so a
                command whose outcome follows ``event`` there is not cancelled.
        """
        self.last_seq = event.seq
        self._ahead = None
        if batch:
            self._tail = batch
        if self.status != "running":
            self._late(event)
            return
        self.now = event.recorded_at
        try:
            handler = HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)
        except (Diverged, Stall) as exc:
            self._stall(exc)

    def release_history(self) -> None:
        """Drop the recorded events once replay has matched them all (memory)."""
        self.recorded = ()
        self.history = ()
        self._tail = ()

    def take_decisions(self) -> list[Decision]:
        """Hand the new decisions to the engine (and forget them)."""
        out, self.new_decisions = self.new_decisions, []
        return out

    def waiting_for(self) -> list[str]:
        """Human-readable descriptions of the commands the run waits on."""
        here = self.current_source()
        return [
            f"{n.kind} #{n.ordinal} {n.name} at {n.source or here}" for n in self._pending.values()
        ] + [
            f"signal {name!r} at {n.source or here}"
            for name, nodes in self._receivers.items()
            for n in nodes
        ]

    def pending_activities(self) -> list[int]:
        """Ordinals of activity calls still waiting for their final outcome."""
        return [o for o, n in self._pending.items() if n.kind == "activity"]

    def pending_children(self) -> dict[int, str]:
        """Child awaits still pending: ordinal -> child workflow id."""
        return {o: n.name for o, n in self._pending.items() if n.kind == "child"}

    def child_started_by(self, ordinal: int) -> str | None:
        """The child a start-and-await command (``await_child(workflow)``) started, if any."""
        return self._awaited_children.get(ordinal)

    def children_to_close(self, cancelled: bool) -> list[str]:
        """Children started with `start_child` that this run's end cancels (its policy says)."""
        return [
            child_id
            for child_id, policy in self._detached_children.values()
            if policy == ParentClose.CANCEL.value
            or (cancelled and policy == ParentClose.PROPAGATE_CANCEL.value)
        ]

    def unconsumed_signals(self) -> list[tuple[str, Any]]:
        """Buffered signals no receive has consumed (carried over by continue-as-new).

        Signals recorded after the run decided to continue as new are among
        them, in the order they were recorded.
        """
        return [(name, p) for name, q in self._signals.items() for p in q]

    def unconsumed_cancel(self) -> CancelRequested | None:
        """A cancel request recorded after the run decided to continue as new, if any.

        The run had already ended when it was applied, so it belongs to the
        successor, which is the run current when the request takes effect.
        """
        return self._late_cancel

    def _late(self, event: Event) -> None:
        """Keep what arrives after a continue-as-new decision for the successor.

        Several events can be committed together: when an earlier one makes the
        run continue as new, the signals and cancel requests after it are in
        this run's history but reach the code only through the successor.
        Replay sees the same events in the same order, so it keeps the same.
        """
        if self.status != "continued_as_new":
            return
        if type(event) is SignalReceived:
            self._signals.setdefault(event.name, deque()).append(event.payload)
        elif type(event) is CancelRequested and self._late_cancel is None:
            self._late_cancel = event

    def query(self, name: str, *args: Any) -> Any:
        """Answer a query from the generator's current state; records nothing."""
        return answer_query(self._queries, self.workflow_id, name, args)

    def _finish_completed(self, value: Any) -> None:
        try:
            result = _codec.to_jsonable(value, f"the result of workflow {self.definition.name!r}")
        except CodecError as exc:
            self._finish_failed(exc)
            return
        self.result = value
        self._finish(WorkflowCompleted, "completed", result=result)

    def _finish_failed(self, exc: BaseException) -> None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.error = exc
        self._finish(WorkflowFailed, "failed", error=_codec.error_info(exc, tb))

    def _finish(self, cls: type[Event], status: str, **fields: Any) -> None:
        self._cancel_all("workflow ended")
        self._decide(cls, fields)
        self.status = status

    def _terminate(self, reason: str | None) -> None:
        """End the run now: close the generator, abandon what is pending, decide the end.

        Unlike a cancel nothing is thrown in at the current yield, so no
        compensation runs (even a run already compensating after a cancel is
        ended). Pending commands are abandoned, not cancelled one by one: the
        run's end clears its timers in the stores and the engine forgets its
        attempts, so the only decision is the end itself, which is also what
        lets a stalled run be terminated and still replay. A child started by
        a pending ``await_child(workflow)`` is cancelled as a cancel would;
        the others follow their `ParentClose` policy as on a cancel. Closing
        runs the generator's ``finally`` blocks; whatever they raise or yield
        is ignored: the run is over either way.
        """
        for ordinal, child_id in self._awaited_children.items():
            if ordinal in self._pending:
                self._detached_children[ordinal] = (child_id, ParentClose.CANCEL.value)
        gen, self._gen = self._gen, None
        self._root = None
        self._pending.clear()
        self._receivers.clear()
        if gen is not None:
            try:
                gen.close()
            except BaseException as exc:  # a finally block that raises or yields
                if is_interrupt(exc):
                    raise
        self._decide(WorkflowCancelled, {"reason": reason, "terminated": True})
        self.status = "cancelled"

    def _continue_as_new(self, command: ContinueAsNew) -> None:
        args = _codec.to_jsonable(list(command.args), "continue_as_new arguments")
        new_run = str(uuid.UUID(bytes=seed(self.workflow_id, self.run_id, "continue"), version=4))
        self._finish(WorkflowContinuedAsNew, "continued_as_new", args=args, new_run_id=new_run)

    def _stall(self, exc: BaseException) -> None:
        if isinstance(exc, Diverged):
            err = divergence_error(self.workflow_id, exc, self.history)
            self.divergence = err
            self.stall_reason = str(err)
        else:
            self.stall_reason = str(exc)
        self.status = "stalled"
        self._gen = None
        self._pending.clear()
        self._receivers.clear()

    def _waiting_description(self) -> dict[str, Any]:
        if self.status != "running":
            return {"kind": f"workflow {self.status}", "name": "", "args": "", "source": ""}
        root = self._root
        if root is None:
            return {"kind": "nothing", "name": "", "args": "", "source": ""}
        return {
            "kind": f"still waiting on {root.kind}",
            "name": root.name,
            "args": "",
            "source": root.source or self.current_source(),
        }

    # --- decisions -----------------------------------------------------------------

    def _decide(self, cls: type[Event], fields: dict[str, Any]) -> None:
        index = self._issued
        self._issued += 1
        if index < len(self.recorded):
            recorded = self.recorded[index]
            if not same_decision(recorded, cls, fields):
                raise Diverged(recorded, Decision(kind=cls, fields=fields), None)
        else:
            self.new_decisions.append(Decision(kind=cls, fields=fields))


__all__ = ["Interpreter", "decode_args", "describe_decision"]
