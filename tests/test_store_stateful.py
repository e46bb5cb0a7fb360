"""DuckDBStore and PostgresStore against MemoryStore, the model assumed perfect (zarr-style).

Rules append realistic events (starts, commands, outcomes, timers, ends,
continue-as-new) to both stores with the same batches: good appends, appends
with a stale expected seq (both must refuse and write nothing), batches
spanning several workflows with one bad item (atomic: nothing written), and
a reopen of the DuckDB file (its index is rebuilt from the rows) or of the
PostgreSQL connection (a fresh schema per example). Invariants
compare histories, visibility records, listings and due timers.
"""

from __future__ import annotations

import itertools
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from aion import _codec
from aion._errors import AionError
from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ErrorInfo,
    Event,
    SignalReceived,
    TimerFired,
    TimerStarted,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStalled,
    WorkflowStarted,
)
from aion.store import Append, DuckDBStore, MemoryStore, Store, open_store

pytestmark = pytest.mark.property

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IDS = ["a", "b", "c", "d"]
payloads = st.one_of(
    st.none(), st.integers(-5, 5), st.text(max_size=5), st.lists(st.integers(0, 3), max_size=3)
)


class StoreMachine(RuleBasedStateMachine):
    """Applies every operation to both stores; the memory store is the model."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="aion-stateful-"))
        self.path = str(self.dir / "store.duckdb")
        self.model = MemoryStore()
        self.real: Store = self.open_real()
        self.heads: dict[str, int] = {}
        self.runs: dict[str, str] = {}
        self.ordinals: dict[str, int] = {}
        self.closed: set[str] = set()
        self.clock = 0

    def open_real(self) -> Store:
        return DuckDBStore(self.path)

    def at(self) -> datetime:
        self.clock += 1
        return T0 + timedelta(seconds=self.clock)

    def both(self, batch: list[Append]) -> None:
        outcomes = []
        for store in (self.model, self.real):
            try:
                store.append(batch)
                outcomes.append(None)
            except AionError as exc:
                outcomes.append(type(exc).__name__)
        note(
            f"append {[(a.workflow_id, a.expected_seq, len(a.events)) for a in batch]} "
            f"-> {outcomes}"
        )
        assert outcomes[0] == outcomes[1]
        if outcomes[0] is None:
            for item in batch:
                self.heads[item.workflow_id] = item.events[-1].seq

    def started(self, workflow_id: str, seq: int, **extra: Any) -> WorkflowStarted:
        run_id = f"{workflow_id}-run{seq}"
        self.runs[workflow_id] = run_id
        self.ordinals[workflow_id] = 0
        return WorkflowStarted(
            seq=seq, run_id=run_id, recorded_at=self.at(), name="flow", args=[seq], **extra
        )

    def event(self, workflow_id: str, seq: int, kind: str, value: Any) -> Event:
        run_id, at = self.runs[workflow_id], self.at()
        self.ordinals[workflow_id] += 1
        o = self.ordinals[workflow_id]
        if kind == "scheduled":
            return ActivityScheduled(
                seq=seq, run_id=run_id, recorded_at=at, ordinal=o, name="act", args=[value]
            )
        if kind == "completed":
            return ActivityCompleted(
                seq=seq,
                run_id=run_id,
                recorded_at=at,
                ordinal=max(o - 1, 1),
                attempt=1,
                result=value,
            )
        if kind == "failed":
            return ActivityFailed(
                seq=seq, run_id=run_id, recorded_at=at, ordinal=o, attempt=1,
                error=ErrorInfo(type="ValueError", message=str(value)),
                retry_at=at + timedelta(seconds=5),
            )  # fmt: skip
        if kind == "timer":
            return TimerStarted(
                seq=seq,
                run_id=run_id,
                recorded_at=at,
                ordinal=o,
                fire_at=at + timedelta(minutes=o),
                seconds=60.0 * o,
            )
        if kind == "fired":
            return TimerFired(seq=seq, run_id=run_id, recorded_at=at, ordinal=max(o - 1, 1))
        return SignalReceived(seq=seq, run_id=run_id, recorded_at=at, name="sig", payload=value)

    @initialize(workflow_id=st.sampled_from(IDS))
    def first(self, workflow_id: str) -> None:
        self.both(
            [Append(workflow_id=workflow_id, expected_seq=0, events=[self.started(workflow_id, 1)])]
        )

    @rule(workflow_id=st.sampled_from(IDS))
    def start(self, workflow_id: str) -> None:
        head = self.heads.get(workflow_id, 0)
        # a start of a known id is refused by the model only when seqs clash; keep it new
        if head:
            return
        self.both(
            [Append(workflow_id=workflow_id, expected_seq=0, events=[self.started(workflow_id, 1)])]
        )

    @precondition(lambda self: bool(self.heads))
    @rule(
        data=st.data(),
        kinds=st.lists(
            st.sampled_from(["scheduled", "completed", "failed", "timer", "fired", "signal"]),
            min_size=1,
            max_size=4,
        ),
        value=payloads,
    )
    def append_events(self, data: st.DataObject, kinds: list[str], value: Any) -> None:
        workflow_id = data.draw(
            st.sampled_from(sorted(set(self.heads) - self.closed))
            if set(self.heads) - self.closed
            else st.nothing()
        )
        head = self.heads[workflow_id]
        events = [self.event(workflow_id, head + i, k, value) for i, k in enumerate(kinds, 1)]
        self.both([Append(workflow_id=workflow_id, expected_seq=head, events=events)])

    @precondition(lambda self: bool(set(self.heads) - self.closed))
    @rule(
        data=st.data(),
        how=st.sampled_from(["completed", "failed", "stalled", "continued"]),
        value=payloads,
    )
    def end(self, data: st.DataObject, how: str, value: Any) -> None:
        workflow_id = data.draw(st.sampled_from(sorted(set(self.heads) - self.closed)))
        head, run_id, at = self.heads[workflow_id], self.runs[workflow_id], self.at()
        events: list[Event]
        if how == "completed":
            events = [WorkflowCompleted(seq=head + 1, run_id=run_id, recorded_at=at, result=value)]
            self.closed.add(workflow_id)
        elif how == "failed":
            events = [
                WorkflowFailed(
                    seq=head + 1,
                    run_id=run_id,
                    recorded_at=at,
                    error=ErrorInfo(type="E", message="m"),
                )
            ]
            self.closed.add(workflow_id)
        elif how == "stalled":
            events = [
                WorkflowStalled(seq=head + 1, run_id=run_id, recorded_at=at, reason=str(value))
            ]
        else:
            new_run = f"{workflow_id}-run{head + 2}"
            events = [
                WorkflowContinuedAsNew(
                    seq=head + 1, run_id=run_id, recorded_at=at, args=[value], new_run_id=new_run
                ),
                self.started(workflow_id, head + 2, previous_run_id=run_id),
            ]
        self.both([Append(workflow_id=workflow_id, expected_seq=head, events=events)])

    @precondition(lambda self: bool(self.heads))
    @rule(data=st.data(), off=st.sampled_from([-1, 1, 5]))
    def stale_append_is_refused(self, data: st.DataObject, off: int) -> None:
        workflow_id = data.draw(st.sampled_from(sorted(self.heads)))
        head = self.heads[workflow_id]
        self.runs.setdefault(workflow_id, "r")
        self.ordinals.setdefault(workflow_id, 0)
        bad = self.event(workflow_id, head + off + 1, "signal", "late")
        self.both([Append(workflow_id=workflow_id, expected_seq=head + off, events=[bad])])

    @precondition(lambda self: len(set(self.heads) - self.closed) >= 1)
    @rule(data=st.data(), spoil=st.booleans())
    def batch_across_workflows(self, data: st.DataObject, spoil: bool) -> None:
        open_ids = sorted(set(self.heads) - self.closed)
        chosen = data.draw(st.lists(st.sampled_from(open_ids), min_size=1, max_size=3, unique=True))
        batch = []
        for i, workflow_id in enumerate(chosen):
            head = self.heads[workflow_id]
            expected = head + 7 if (spoil and i == len(chosen) - 1) else head
            batch.append(
                Append(
                    workflow_id=workflow_id,
                    expected_seq=expected,
                    events=[self.event(workflow_id, expected + 1, "signal", i)],
                )
            )
        self.both(batch)

    @rule()
    def reopen(self) -> None:
        note("reopen the store")
        self.real.close()
        self.real = self.open_real()

    @invariant()
    def same_histories(self) -> None:
        want = {w: [_codec.event_to_dict(e) for e in h] for w, h in self.model.histories().items()}
        got = {w: [_codec.event_to_dict(e) for e in h] for w, h in self.real.histories().items()}
        assert got == want
        for workflow_id in IDS:
            assert [_codec.event_to_dict(e) for e in self.real.history(workflow_id)] == want.get(
                workflow_id, []
            )

    @invariant()
    def same_visibility(self) -> None:
        for workflow_id in IDS:
            assert self.real.info(workflow_id) == self.model.info(workflow_id)
        assert self.real.workflows() == self.model.workflows()
        for status in ("running", "completed", "failed", "stalled"):
            assert self.real.workflows(status=status) == self.model.workflows(status=status)

    @invariant()
    def same_timers(self) -> None:
        assert self.real.due_timers() == self.model.due_timers()
        probe = T0 + timedelta(seconds=self.clock)
        assert self.real.due_timers(probe) == self.model.due_timers(probe)

    def teardown(self) -> None:
        self.real.close()
        for f in self.dir.iterdir():
            f.unlink()
        self.dir.rmdir()


StoreMachine.TestCase.settings = settings(
    settings.default,
    max_examples=max(5, settings.default.max_examples // 2),
    stateful_step_count=20,
    deadline=None,
)
test_duckdb_store_agrees_with_memory_store = StoreMachine.TestCase

_examples = itertools.count(1)


def test_postgres_store_agrees_with_memory_store(pg_database: str) -> None:
    class PostgresMachine(StoreMachine):
        def __init__(self) -> None:
            self.url = f"{pg_database}?aion_schema=s{next(_examples)}_{uuid.uuid4().hex[:6]}"
            super().__init__()

        def open_real(self) -> Store:
            return open_store(self.url)

        def teardown(self) -> None:
            import psycopg

            super().teardown()
            with psycopg.connect(pg_database, autocommit=True) as con:
                con.execute(f"DROP SCHEMA {self.url.rsplit('=', 1)[1]} CASCADE")

    run_state_machine_as_test(PostgresMachine, settings=StoreMachine.TestCase.settings)
