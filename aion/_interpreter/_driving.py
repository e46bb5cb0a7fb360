"""Driving the generator: resuming it, and replay's loop over recorded events.

`Driver._resume` sends a value into the workflow generator (under the step
watchdog) and turns each command it yields into a pending node, until the
code waits on one or the run ends. `Driver.replay_events` feeds a recorded
run's events to the interpreter.

A replayed history is mostly one pattern: a recorded `ActivityScheduled`
(the decision the code made already) and its `ActivityCompleted`, whose value
resumes the code, which yields the next recorded call. The replay loop does
that round trip written out in one place: what `feed`, `apply`,
`_on_activity_completed`, `_resume` and `_issue_call` would do for it, the
same bookkeeping in the same order, the same rules, the same stall on a
result that no longer decodes. Whenever anything differs from that pattern (a
group's member, a deadline, the run not running, a decision not made yet, a
command other than a call, a call that is not the recorded one, the code
raising or returning), the event or the command goes to the general methods,
which find and word every divergence as they always did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from aion import _codec
from aion._codec import NOT_QUICK, quick_decoder
from aion._commands import Call, Command, ContinueAsNew
from aion._definitions import WorkflowDefinition
from aion._errors import Cancelled, CodecError, WorkflowYieldError
from aion._events import ActivityCompleted, ActivityScheduled, Event, WorkflowCancelled
from aion._interpreter._divergence import Diverged
from aion._interpreter._issue import ISSUERS, Issuer
from aion._interpreter._matching import same_recorded_call
from aion._interpreter._nodes import ActivityNode, Node
from aion._interpreter._support import is_interrupt, source_of
from aion._interpreter._tree import Stall, decode_result
from aion._interpreter._watchdog import WATCHDOG, Guard, Runaway

_ISSUE_CALL: Final = ISSUERS[Call]
#: Every other command (composites, ...): `Issuer._issue` finds its issuer by type.
_ISSUE_ANY: Final[Callable[..., Node]] = Issuer._issue
#: `_resume`'s "no command yielded yet": send first.
_SEND: Final = object()
_NEW: Final = object.__new__


class Driver(Issuer):
    """Resuming the generator and the replay loop (inherited by `Interpreter`)."""

    definition: WorkflowDefinition
    status: str
    step_budget: float | None
    _seen_decisions: int
    _cancelling: bool
    _held: Guard | None

    if TYPE_CHECKING:

        def apply(self, event: Event, batch: Any = ()) -> None: ...
        def feed(self, event: Event) -> None: ...
        def _stall(self, exc: BaseException) -> None: ...
        def _finish_completed(self, value: Any) -> None: ...
        def _finish_failed(self, exc: BaseException) -> None: ...
        def _finish(self, cls: type[Event], status: str, **fields: Any) -> None: ...
        def _continue_as_new(self, command: ContinueAsNew) -> None: ...

    def replay_events(self, events: Iterable[Event], stop_at_stall: bool) -> None:
        """`feed` each recorded event in order (the caller has started the run)."""
        apply, feed = self.apply, self.feed
        pending = self._pending  # cleared on a stall or a terminate, never replaced
        recorded = self.recorded
        registry = self.registry
        held = self._held if self.step_budget else None
        gen = self._gen
        if held is None or gen is None:
            # No held guard (the watchdog is off) or no generator: the general path.
            for event in events:
                if event.FAMILY == "outcome":
                    apply(event)
                else:
                    feed(event)
                if stop_at_stall and self.status == "stalled":
                    break
            return
        send = gen.send
        watchdog = WATCHDOG
        held.budget, held.code = self.step_budget or 0.0, getattr(gen, "gi_code", None)
        recorded_count = len(recorded)  # the recorded decisions are fixed for the replay
        last_definition: Any = None  # the previous call's definition, and its result decoding
        result_type: Any = Any
        decode = quick_decoder(Any)
        for event in events:
            kind = type(event)
            if kind is ActivityCompleted:
                outcome: ActivityCompleted = event  # type: ignore[assignment]  # `kind` says so
                node = pending.get(outcome.ordinal)
                if (
                    type(node) is not ActivityNode
                    or node.parent is not None
                    or node is not self._root
                    or node.done
                    or self.status != "running"
                ):
                    apply(event)
                else:
                    # `apply` and `_on_activity_completed`: a top-level call the code waits on.
                    self.last_seq = outcome.seq
                    self._ahead = None
                    self.now = outcome.recorded_at
                    try:
                        value = node.decode(outcome.result)
                        if value is NOT_QUICK:
                            value = decode_result(node, outcome)
                        node.done, node.value = True, value
                        del pending[outcome.ordinal]
                        # `_resume(True, value)`, up to the command the code yields next.
                        self._root = None
                        held.stretch += 1
                        held.active = True
                        try:
                            try:
                                command = send(value)
                            finally:
                                held.active = False  # first, then look for a late raise
                                if held.firing or held.fired:
                                    watchdog.settle(held)
                        except BaseException as exc:
                            self._code_raised(exc, held)
                            command = _SEND  # the run ended (or `_code_raised` raised)
                        if command is _SEND:
                            pass
                        elif type(command) is Call:
                            # `_issue_call` for the recorded call; any other goes there.
                            ordinal = self._next_ordinal
                            index = self._issued
                            name = command.activity
                            definition = command.definition
                            if definition is None and registry is not None:
                                definition = registry.activities.get(name)
                            if index < recorded_count and same_recorded_call(
                                recorded[index], ordinal, name, command.args, command.kwargs
                            ):
                                self._next_ordinal = ordinal + 1
                                self._draws = 0
                                self._issued = index + 1
                                if definition is not last_definition:
                                    last_definition = definition
                                    result_type = definition.return_type if definition else Any
                                    decode = quick_decoder(result_type)
                                # `ActivityNode(...)`, its slots written here: no __init__ call.
                                node = _NEW(ActivityNode)
                                node.kind = "activity"
                                node.ordinal = ordinal
                                node.name = name
                                node.source = ""
                                node.parent = None
                                node.slot = 0
                                node.done = False
                                node.ok = True
                                node.value = None
                                node.result_type = result_type
                                node.decode = decode
                                pending[ordinal] = node
                                self._root = node
                            else:
                                self._resume(True, None, command)
                        else:
                            self._resume(True, None, command)
                    except (Diverged, Stall) as exc:
                        self._stall(exc)
            elif kind is ActivityScheduled and self._seen_decisions < self._issued:
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

    def _resume(self, ok: bool, value: Any, yielded: Any = _SEND) -> None:
        """Send ``value`` (throw it, unless ``ok``) and issue what the code yields.

        Given ``yielded``, the code has yielded that already (the replay loop
        sent the value) and the resume starts from that command.
        """
        gen = self._gen
        assert gen is not None
        budget = self.step_budget
        code = getattr(gen, "gi_code", None)
        watchdog = WATCHDOG
        held = self._held if budget else None
        if held is not None:
            held.budget, held.code = budget or 0.0, code
        while True:
            if yielded is not _SEND:
                command, yielded = yielded, _SEND
            else:
                self._root = None
                if held is not None:  # a replay holds the guard: start the stretch inline
                    guard: Guard | None = held
                    held.stretch += 1
                    held.active = True
                else:
                    guard = watchdog.watch(budget, code) if budget else None
                try:
                    try:
                        command = gen.send(value) if ok else gen.throw(value)
                    finally:
                        if guard is held and held is not None:
                            held.active = False  # first, then look for a late raise
                            if held.firing or held.fired:
                                watchdog.settle(held)
                        elif guard is not None:
                            watchdog.release(guard)
                except BaseException as exc:
                    self._code_raised(exc, guard)
                    return
            issue = ISSUERS.get(type(command))  # one probe for the common commands
            # A replayed call needs no source line (it is looked up only if the call
            # turns out new or different, or when someone asks what the run waits on).
            source = None if issue is _ISSUE_CALL else source_of(gen)
            if issue is None:
                if not isinstance(command, Command):
                    ok, value = False, self._yield_error(command, source or "")
                    continue
                if isinstance(command, ContinueAsNew):
                    self._continue_as_new(command)
                    return
                issue = _ISSUE_ANY
            try:
                node = issue(self, command, None, source)  # source None: only for a call
            except CodecError as exc:
                ok, value = False, exc
                continue
            if node.done:
                ok, value = node.ok, node.value
                continue
            self._root = node
            return

    def _code_raised(self, exc: BaseException, guard: Guard | None) -> None:
        """The code raised ``exc`` when resumed (or returned): end the run, or stall it."""
        if isinstance(exc, Runaway):
            assert guard is not None
            # Again, in case the exception cut the first release short.
            if guard is self._held:
                WATCHDOG.settle(guard)
            else:
                WATCHDOG.release(guard)
            msg = (
                f"workflow {self.definition.name!r} ran for more than {self.step_budget:g}s "
                f"without yielding, at {guard.where or 'an unknown line'}: workflow code must "
                "not loop or block between yields."
            )
            raise Stall(msg) from None
        if isinstance(exc, StopIteration):
            self._finish_completed(exc.value)
        elif isinstance(exc, Cancelled):
            if self._cancelling:
                self._finish(WorkflowCancelled, "cancelled", reason=exc.reason)
            else:
                self._finish_failed(exc)
        elif isinstance(exc, Diverged | Stall) or is_interrupt(exc):
            raise exc
        else:
            # Whatever else the workflow raises (SystemExit, KeyboardInterrupt,
            # GeneratorExit, a BaseException of its own) fails that workflow and
            # never the engine; only a real Ctrl-C goes on to stop it.
            self._finish_failed(exc)

    def _yield_error(self, obj: Any, source: str) -> WorkflowYieldError:
        text = _codec.dumps(str(obj))[:40]
        msg = (
            f"workflow {self.definition.name!r} yielded a {type(obj).__name__} ({text}) at "
            f"{source}; a workflow may only yield aion commands such as aion.call(...)."
        )
        return WorkflowYieldError(msg)
