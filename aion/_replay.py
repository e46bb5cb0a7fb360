"""Offline replay: re-run workflow code against a recorded history, with no side effects.

`replay` checks one history; `Replayer` checks many (a whole store, a folder
of fixtures) and summarises. Nothing is executed for real: activities,
timers and children are answered from history.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from aion._definitions import Registry, workflow_definition
from aion._errors import AionError, HistoryError, NondeterminismError, NotRegisteredError
from aion._events import (
    FORMAT_VERSION,
    SEMANTICS_VERSION,
    Event,
    WorkflowContinuedAsNew,
    WorkflowStarted,
)
from aion._gcpause import paused_gc
from aion._interpreter import Interpreter


@attrs.frozen(kw_only=True)
class ReplayResult:
    """What replaying one history found.

    Attributes:
        workflow_id: The replayed workflow (from the history, when known).
        ok: No divergence and nothing stalled the replay.
        status: Where the code ended: ``running`` (history ends mid-run),
            ``completed``, ``failed``, ``cancelled``, ``continued_as_new`` or ``stalled``.
        result: The value the code returned, when completed.
        error: The exception the code raised (failed), or why it stalled.
        divergence: The first mismatch between code and history, if any.
        stopped_at: The last seq consumed.
        events: How many events were replayed.
    """

    workflow_id: str
    ok: bool
    status: str
    result: Any = None
    error: BaseException | None = None
    divergence: NondeterminismError | None = None
    stopped_at: int = 0
    events: int = 0
    interpreter: Interpreter | None = attrs.field(default=None, repr=False, eq=False)


def _check_shape(history: Sequence[Event]) -> None:
    if not history:
        msg = "the history is empty: there is nothing to replay."
        raise HistoryError(msg)
    if not isinstance(history[0], WorkflowStarted):
        first = history[0]
        msg = (
            f"the history must begin with WorkflowStarted, but seq {first.seq} "
            f"is {type(first).__name__}."
        )
        raise HistoryError(msg)
    start = history[0].seq
    # Compared in C first (a replay's only per-event cost outside the interpreter);
    # the loop finds the gap to name only when there is one.
    if list(map(_SEQ, history)) == list(range(start, start + len(history))):
        return
    for expected, event in enumerate(history, start=start):
        if event.seq != expected:
            msg = (
                f"the history skips from seq {expected - 1} to seq {event.seq}: "
                "it is truncated or corrupt."
            )
            raise HistoryError(msg)


def _runs(history: Sequence[Event]) -> list[int]:
    """Where each run begins: the positions of the WorkflowStarted events."""
    kinds = list(map(type, history))
    if any(issubclass(t, WorkflowStarted) and t is not WorkflowStarted for t in set(kinds)):
        return [i for i, e in enumerate(history) if isinstance(e, WorkflowStarted)]
    starts: list[int] = []
    with contextlib.suppress(ValueError):  # list.index: a search in C, once per run
        while True:
            starts.append(kinds.index(WorkflowStarted, starts[-1] + 1 if starts else 0))
    return starts


def _decisions(events: Sequence[Event]) -> list[Event]:
    """The decision events, in order (what `Interpreter` matches commands against)."""
    return list(itertools.compress(events, map("decision".__eq__, map(_FAMILY, events))))


_SEQ = operator.attrgetter("seq")
_FAMILY = operator.attrgetter("FAMILY")


def replay(
    workflow: Callable[..., Any] | str,
    history: Sequence[Event],
    *,
    registry: Registry | None = None,
    workflow_id: str | None = None,
) -> ReplayResult:
    """Re-run ``workflow`` against ``history`` and report whether it still matches.

    Every run in the history (continue-as-new) is replayed in turn; the
    outcome is the last run's.

    Args:
        workflow: The workflow function (or its registered name, with ``registry``).
        history: What `Engine.history` returns, or a loaded fixture's events.
        registry: Used to decode activity results into annotated types and to
            resolve a workflow given by name.
        workflow_id: The id to name in reports (defaults to ``"<replay>"``).

    Raises:
        aion.HistoryError: The history is malformed, or belongs to another workflow type.
    """
    if isinstance(workflow, str):
        if registry is None:
            msg = f"replay({workflow!r}, ...) needs a registry to find the workflow by name."
            raise NotRegisteredError(msg)
        definition = registry.workflow(workflow)
    else:
        definition = workflow_definition(workflow)
    _check_shape(history)
    first = history[0]
    recorded_id = first.workflow_id if isinstance(first, WorkflowStarted) else None
    workflow_id = workflow_id or recorded_id or "<replay>"
    starts = _runs(history)
    interp: Interpreter | None = None
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(history)
        segment = history[start:end]
        started = segment[0]
        assert isinstance(started, WorkflowStarted)
        if started.name != definition.name:
            msg = (
                f"the history at seq {started.seq} is of workflow type {started.name!r}, "
                f"not {definition.name!r}: it was recorded by other code."
            )
            raise HistoryError(msg)
        if started.format_version > FORMAT_VERSION or started.semantics_version > SEMANTICS_VERSION:
            msg = (
                f"the history at seq {started.seq} was written in format {started.format_version} "
                f"(semantics {started.semantics_version}); this aion reads up to {FORMAT_VERSION}."
            )
            raise HistoryError(msg)
        interp = Interpreter(
            workflow_id=workflow_id,
            started=started,
            definition=definition,
            registry=registry,
            recorded=_decisions(segment),
            history=segment,
        )
        interp.replay_from(segment[1:], stop_at_stall=True)
        if interp.status == "stalled":
            break
        if interp.status == "continued_as_new" and not isinstance(
            segment[-1], WorkflowContinuedAsNew
        ):
            break
    assert interp is not None
    error: BaseException | None = interp.error
    if interp.status == "stalled" and interp.divergence is None:
        error = AionError(interp.stall_reason or "stalled")
    divergence = interp.divergence if isinstance(interp.divergence, NondeterminismError) else None
    return ReplayResult(
        workflow_id=workflow_id,
        ok=interp.status != "stalled",
        status=interp.status,
        result=interp.result,
        error=error,
        divergence=divergence,
        stopped_at=interp.last_seq,
        events=len(history),
        interpreter=interp,
    )


@attrs.frozen(kw_only=True)
class ReplaySummary:
    """Counts over many replays, plus each result."""

    replayed: int
    ok: int
    diverged: int
    errors: int
    results: tuple[ReplayResult, ...]


class Replayer:
    """Replays many histories against the current code.

    Args:
        workflows: The workflow functions histories may belong to.
        activities: Activity functions (to decode results into their annotated types).
    """

    def __init__(
        self, workflows: Iterable[Callable[..., Any]], activities: Iterable[Callable[..., Any]] = ()
    ) -> None:
        self.registry = Registry(workflows, activities)

    def replay(self, history: Sequence[Event], workflow_id: str | None = None) -> ReplayResult:
        """Replay one history; the workflow type is read from its started event."""
        _check_shape(history)
        started = history[0]
        assert isinstance(started, WorkflowStarted)
        return replay(started.name, history, registry=self.registry, workflow_id=workflow_id)

    def replay_many(
        self, histories: Iterable[tuple[str, Sequence[Event]]]
    ) -> Iterator[ReplayResult]:
        """Replay ``(workflow_id, history)`` pairs; bad histories become error results."""
        for workflow_id, history in histories:
            try:
                yield self.replay(history, workflow_id)
            except AionError as exc:
                yield ReplayResult(workflow_id=workflow_id, ok=False, status="error", error=exc)

    def replay_store(self, store: Any) -> ReplaySummary:
        """Replay every workflow in a store (read in one scan).

        The cyclic collector is paused meanwhile: every history and result stays
        alive until the summary, so collections would only rescan them.
        """
        with paused_gc():
            histories = store.histories()
            return self.summarise(self.replay_many(histories.items()))

    @staticmethod
    def summarise(results: Iterable[ReplayResult]) -> ReplaySummary:
        """Count ok / diverged / error results."""
        items = tuple(results)
        diverged = sum(1 for r in items if r.divergence is not None)
        errors = sum(1 for r in items if not r.ok and r.divergence is None)
        return ReplaySummary(
            replayed=len(items),
            ok=sum(1 for r in items if r.ok),
            diverged=diverged,
            errors=errors,
            results=items,
        )
