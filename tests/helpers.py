"""Test helpers: drive a workflow to its end, and crash it at every event boundary.

A crash is modelled exactly as it happens on disk: the store holds a prefix
of the history (what was committed before the process died) and a brand-new
engine opens it. Real SIGKILL crashes are exercised in test_recovery.py and
the crash campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aion
from aion._events import Event, SignalReceived, WorkflowStarted
from aion.store import Append, MemoryStore

ExecutionLog = list[tuple[str, int]]  # (idempotency key, attempt)


def drive(
    engine: aion.Engine,
    workflow_id: str,
    signals: Sequence[tuple[Any, ...]] = (),
    already_sent: int = 0,
) -> Any:
    """Run ``workflow_id`` to its end, sending ``signals`` one by one whenever it blocks.

    ``signals`` are ``(workflow_id, name, payload)``, or ``(..., "now")`` to
    send at once, or ``(..., "idle")`` to send once nothing more can run
    without time passing, rather than when the workflow blocks. The name
    ``"!cancel"`` cancels the workflow (the payload is the reason). The first
    ``already_sent`` were delivered before (they are in history) and are skipped.
    """
    pending = list(signals[already_sent:])

    def send(item: tuple[Any, ...]) -> None:
        target, name, payload = item[:3]
        if name == "!cancel":
            engine.cancel(target, payload)
        else:
            engine.signal(target, name, payload)

    while pending and len(pending[0]) > 3 and pending[0][3] in ("now", "idle"):
        if pending[0][3] == "idle":
            engine.run_until_idle()
        send(pending.pop(0))
    while True:
        try:
            return engine.run_until_complete(workflow_id, timeout=30)
        except aion.WorkflowBlocked:
            if not pending:
                raise
            send(pending.pop(0))


def assert_well_formed(workflow_id: str, history: Sequence[Event]) -> None:
    """Seqs contiguous; every outcome follows its command; one final outcome per command."""
    assert [e.seq for e in history] == list(range(1, len(history) + 1)), workflow_id
    issued: set[tuple[str, int]] = set()
    final: set[tuple[str, int]] = set()
    for e in history:
        ordinal = getattr(e, "ordinal", None)
        if ordinal is None:
            continue
        key = (e.run_id, ordinal)
        if e.FAMILY == "decision" and type(e).__name__ != "CommandCancelled":
            issued.add(key)
        elif e.FAMILY == "outcome":
            assert key in issued, f"{workflow_id} seq {e.seq}: outcome before its command"
            if getattr(e, "retry_at", None) is None:
                assert key not in final, (
                    f"{workflow_id} seq {e.seq}: second final outcome for {key}"
                )
                final.add(key)


def store_with(histories: dict[str, Sequence[Event]]) -> MemoryStore:
    """A fresh store holding exactly these histories (what a crash left on disk)."""
    store = MemoryStore()
    store.append(
        [Append(workflow_id=w, expected_seq=0, events=list(h)) for w, h in histories.items() if h]
    )
    return store


def all_histories(engine: aion.Engine) -> dict[str, list[Event]]:
    """Every workflow's history in the engine's store."""
    return {info.workflow_id: engine.history(info.workflow_id) for info in engine.list()}


class RecordingStore(MemoryStore):
    """A MemoryStore that remembers each committed batch, in commit order."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Append]] = []

    def append(self, batch: Sequence[Append]) -> None:
        super().append(batch)
        self.batches.append(list(batch))

    def prefix(self, n: int, extra: int = 0) -> dict[str, list[Event]]:
        """What the store held after the first ``n`` commits (plus ``extra`` events of commit n+1).

        ``extra`` models a different grouping of commits: the first events of
        the next batch committed on their own. It is only used for batches
        that touch a single workflow, where any event boundary is a state
        some grouping could have left on disk.
        """
        out: dict[str, list[Event]] = {}
        for batch in self.batches[:n]:
            for item in batch:
                out.setdefault(item.workflow_id, []).extend(item.events)
        if extra:
            (item,) = self.batches[n]
            out.setdefault(item.workflow_id, []).extend(item.events[:extra])
        return out

    def cut_points(self) -> list[tuple[int, int]]:
        """Every crash point: commit boundaries, and event boundaries in single-workflow commits."""
        points = []
        for n in range(1, len(self.batches)):
            points.append((n, 0))
            nxt = self.batches[n]
            if len(nxt) == 1:
                events = nxt[0].events
                # a continue-as-new and its successor's start (with carried signals) are one unit
                points.extend(
                    (n, k)
                    for k in range(1, len(events))
                    if not isinstance(events[k], WorkflowStarted)
                    and not (isinstance(events[k], SignalReceived) and events[k].carried)
                )
        return points


def run_once(
    workflow: Callable[..., Any],
    args: Sequence[Any],
    *,
    workflows: Sequence[Callable[..., Any]],
    activities: Sequence[Callable[..., Any]],
    epoch: datetime,
    signals: Sequence[tuple[Any, ...]] = (),
    workflow_id: str = "wf",
) -> tuple[Any, RecordingStore]:
    """Run uninterrupted; return ``(outcome, store)``; outcome is the result or error type."""
    store = RecordingStore()
    with aion.Engine(
        store=store, workflows=workflows, activities=activities, clock=aion.ManualClock(start=epoch)
    ) as engine:
        engine.start(workflow, *args, workflow_id=workflow_id)
        outcome = _outcome(lambda: drive(engine, workflow_id, signals))
    return outcome, store


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except aion.AionError as exc:
        return ("error", type(exc).__name__)


def check_recovery_everywhere(
    workflow: Callable[..., Any],
    args: Sequence[Any],
    *,
    workflows: Sequence[Callable[..., Any]],
    activities: Sequence[Callable[..., Any]],
    epoch: datetime,
    signals: Sequence[tuple[Any, ...]] = (),
    executions: ExecutionLog | None = None,
    workflow_id: str = "wf",
) -> int:
    """Crash after every commit (and between any two events) of a run, recover, and compare.

    For each crash point, a new engine opens exactly what was committed by
    then and finishes the run. The outcome must equal the
    uninterrupted run's, every committed history must be kept verbatim as a
    prefix, and (with ``executions``, a log the activities append
    ``(idempotency_key, attempt)`` to) no activity whose completion was
    recorded runs again. Returns how many crash points ran.
    """
    expected, full = run_once(
        workflow,
        args,
        workflows=workflows,
        activities=activities,
        epoch=epoch,
        signals=signals,
        workflow_id=workflow_id,
    )
    points = 0
    for n, extra in full.cut_points():
        prefix = full.prefix(n, extra)
        cut_time = max(e.recorded_at for h in prefix.values() for e in h)
        sent = sum(
            1
            for h in prefix.values()
            for e in h
            if (isinstance(e, SignalReceived) and e.sender is None and not e.carried)
            or type(e).__name__ == "CancelRequested"
        )
        completed_keys = {
            f"{w}:{e.run_id}:{e.ordinal}"
            for w, h in prefix.items()
            for e in h
            if type(e).__name__ == "ActivityCompleted"
        }
        if executions is not None:
            executions.clear()
        with aion.Engine(
            store=store_with(prefix),
            workflows=workflows,
            activities=activities,
            clock=aion.ManualClock(start=cut_time),
        ) as engine:
            outcome = _outcome(lambda: drive(engine, workflow_id, signals, sent))  # noqa: B023 - called at once
            after = all_histories(engine)
        assert outcome == expected, f"crash at {(n, extra)}: {outcome} != {expected}"
        for w, h in after.items():
            assert_well_formed(w, h)
        for w, h in prefix.items():
            assert after[w][: len(h)] == h, f"crash at {(n, extra)}: {w}'s committed prefix changed"
        if executions is not None:
            rerun = [key for key, _ in executions if key in completed_keys]
            assert not rerun, f"crash at {(n, extra)}: completed activities ran again: {rerun}"
        points += 1
    assert points > 0
    return points


def count_events(path: Path) -> int:
    """How many events a DuckDB file holds, read without a worker."""
    store = aion.DuckDBStore(path, read_only=True)
    try:
        return sum(len(h) for h in store.histories().values())
    finally:
        store.close()


def record_bad_start(path: Path, workflow_id: str, args: list[Any], name: str = "order") -> None:
    """What a file written by old code (or by hand) holds: a start the code cannot take."""
    store = aion.DuckDBStore(path)
    try:
        started = WorkflowStarted(
            seq=1,
            run_id=f"run-{workflow_id}",
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
            name=name,
            args=args,
            workflow_id=workflow_id,
        )
        store.append([Append(workflow_id=workflow_id, expected_seq=0, events=[started])])
    finally:
        store.close()
