"""PostgreSQL commit throughput: ``python -m bench.pg_bench [DSN]``.

Appends batches shaped like the engine's steps (each workflow in a batch gets
an outcome and its next command: ActivityCompleted + ActivityScheduled) to a
fresh schema and prints events/s committed for several batch widths; then
runs one engine (100 workflows x 10 no-op activities, bench.live_core's
workflow) on PostgreSQL and on a DuckDB file for comparison. The DSN
defaults to ``AION_BENCH_POSTGRES`` or the local test server. The schema is
dropped afterwards. Not part of BENCHMARKS.md yet (issue 14 adds the
multi-worker figures there).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

import aion
from aion._events import ActivityCompleted, ActivityScheduled, Event, WorkflowStarted
from aion.store import Append, DuckDBStore, PostgresStore, Store
from bench.live_core import chain, noop

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: (workflows per batch, batches): about 2,000-20,000 events per row of the table.
SHAPES = ((1, 1000), (10, 400), (100, 100), (500, 20))


def _step(seq: int, ordinal: int, at: datetime) -> list[Event]:
    return [
        ActivityCompleted(seq=seq, run_id="r", recorded_at=at, ordinal=ordinal, attempt=1,
                          result={"i": ordinal, "ok": True}),
        ActivityScheduled(seq=seq + 1, run_id="r", recorded_at=at, ordinal=ordinal + 1,
                          name="tick", args=[ordinal + 1], source="flows.py:12", digest="d1"),
    ]  # fmt: skip


def measure(store: PostgresStore, width: int, batches: int) -> tuple[float, float]:
    """(events/s, ms per commit) for ``batches`` commits of ``width`` workflows each."""
    at = datetime.now(UTC)
    ids = [f"{width}-{uuid.uuid4().hex[:8]}-{i}" for i in range(width)]
    store.append(
        [
            Append(
                workflow_id=w,
                expected_seq=0,
                events=[WorkflowStarted(seq=1, run_id="r", recorded_at=at, name="flow", args=[])],
            )
            for w in ids
        ]
    )
    head = 1
    events = 0
    began = time.perf_counter()
    for n in range(batches):
        batch = [
            Append(workflow_id=w, expected_seq=head, events=_step(head + 1, 2 * n + 1, at))
            for w in ids
        ]
        store.append(batch)
        head += 2
        events += 2 * width
    elapsed = time.perf_counter() - began
    return events / elapsed, 1000 * elapsed / batches


class _Counting(PostgresStore):
    events = 0

    def append(self, batch: Sequence[Append], **kw: object) -> None:  # type: ignore[override]
        super().append(batch, **kw)  # type: ignore[arg-type]
        self.events += sum(len(item.events) for item in batch)


class _CountingDuck(DuckDBStore):
    events = 0

    def append(self, batch: Sequence[Append]) -> None:
        super().append(batch)
        self.events += sum(len(item.events) for item in batch)


def engine_figure(store: _Counting | _CountingDuck, workflows: int, activities: int) -> float:
    """Events/s one engine commits serving ``workflows`` chains of ``activities``."""
    engine = aion.Engine(store=store, workflows=[chain], activities=[noop], max_workers=2)
    for w in range(workflows):
        engine.start(chain, activities, workflow_id=f"w{w}")
    before = store.events
    began = time.perf_counter()
    stop = threading.Event()
    worker = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    worker.start()
    check: Store = store
    while len(check.workflows(status="completed")) < workflows:
        time.sleep(0.01)
    seconds = time.perf_counter() - began
    stop.set()
    worker.join()
    engine.close()
    return (store.events - before) / seconds


def main(dsn: str) -> None:
    """Print the table."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, schema=schema)
    try:
        print(f"PostgreSQL commit throughput ({store.path}, schema {schema})")
        print(f"{'workflows/batch':>16} {'events/batch':>13} {'ms/commit':>10} {'events/s':>10}")
        for width, batches in SHAPES:
            rate, per_commit = measure(store, width, batches)
            print(f"{width:>16} {2 * width:>13} {per_commit:>10.2f} {rate:>10,.0f}")
    finally:
        store.close()
    try:
        pg = _Counting(dsn, schema=schema)
        rate = engine_figure(pg, 100, 10)
        pg.close()
        with tempfile.TemporaryDirectory() as workdir:
            duck = _CountingDuck(os.path.join(workdir, "bench.duckdb"))
            duck_rate = engine_figure(duck, 100, 10)
            duck.close()
        print(
            f"one engine, 100 workflows x 10 activities: {rate:,.0f} events/s on PostgreSQL, "
            f"{duck_rate:,.0f} events/s on DuckDB"
        )
    finally:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AION_BENCH_POSTGRES", DEFAULT_DSN))
