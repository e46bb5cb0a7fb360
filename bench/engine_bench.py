"""Engine figures: live throughput and latency, recovery, memory per sleeping workflow."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aion
from aion._definitions import workflow_definition
from aion._events import CommandEvent, WorkflowCompleted, WorkflowStarted
from aion.store import Append, DuckDBStore
from bench.stats import percentile
from bench.workloads import scaled, sleeper, step, synthesize_waiting, waiter, write_store

Row = dict[str, Any]

_DONE_AT: dict[str, float] = {}


@aion.activity
def tick(i: int) -> dict[str, Any]:
    """A no-op activity that notes when it returned (for the latency figure)."""
    _DONE_AT[aion.activity_info().workflow_id] = time.perf_counter()
    return {"i": i}


@aion.workflow
def live(n: int):  # type: ignore[no-untyped-def]
    """``n`` no-op activities and 2 timers (after the first and second third)."""
    for i in range(n):
        yield aion.call(tick, i)
        if i in (n // 3, (2 * n) // 3):
            yield aion.sleep(0.001)
    return n


class TimedStore(DuckDBStore):
    """A DuckDB store that counts commits and samples completion-to-next-command latency."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.commits = 0
        self.events = 0
        self.latencies: list[float] = []

    def append(self, batch: Sequence[Append]) -> None:
        """Append, then note which workflows got their next command recorded."""
        super().append(batch)
        now = time.perf_counter()
        self.commits += 1
        for item in batch:
            self.events += len(item.events)
            for event in item.events:
                if isinstance(event, CommandEvent | WorkflowCompleted):
                    done = _DONE_AT.pop(item.workflow_id, None)
                    if done is not None:
                        self.latencies.append(now - done)
                    break


def live_run(workdir: str) -> list[Row]:
    """1,000 concurrent workflows x (20 activities + 2 timers) on a DuckDB file.

    Two figures: the engine's own throughput with 1,000 workflows in flight (their
    starts are in the file, as a client that enqueued them while no worker ran
    would leave them; the worker is timed from open to the last completion), and
    `start()` called 1,000 times from one thread, each returning once durable.
    """
    count = scaled(1_000, floor=20)
    store, seconds = _serve_seeded(os.path.join(workdir, "live.duckdb"), count)
    starts = _starts(os.path.join(workdir, "starts.duckdb"), count)
    p50 = percentile(store.latencies, 0.5) * 1e3
    p99 = percentile(store.latencies, 0.99) * 1e3
    return [
        {
            "section": "live",
            "what": f"{count:,} workflows x (20 activities + 2 timers), events committed",
            "value": store.events / seconds,
            "unit": "events/s",
            "detail": (
                f"{store.events:,} events in {store.commits:,} commits "
                f"({store.events / store.commits:.0f}/commit), {seconds:.1f} s from open"
            ),
            "target": ">= 20,000 ev/s",
            "ok": store.events / seconds >= 20_000,
        },
        {
            "section": "live",
            "what": "workflows completed",
            "value": count / seconds,
            "unit": "workflows/s",
            "detail": "",
            "target": "",
            "ok": None,
        },
        {
            "section": "live",
            "what": "activity completion -> next command recorded, p50 / p99",
            "value": p50,
            "unit": "ms (p50)",
            "detail": f"p99 {p99:.1f} ms over {len(store.latencies):,} samples",
            "target": "",
            "ok": None,
        },
        {
            "section": "live",
            "what": f"{count:,} x start() from one thread (each returns once durable)",
            "value": count / starts,
            "unit": "starts/s",
            "detail": f"{starts / count * 1e3:.2f} ms per start: one commit each",
            "target": "",
            "ok": None,
        },
    ]


@aion.workflow
def idle():  # type: ignore[no-untyped-def]
    """Waits for a signal that never comes (only its start is measured)."""
    yield aion.receive_signal("never")


def _starts(path: str, count: int) -> float:
    """Seconds for ``count`` sequential `start()` calls on a fresh file."""
    engine = aion.Engine(path, workflows=[idle])
    try:
        start = time.perf_counter()
        for i in range(count):
            engine.start(idle, workflow_id=f"s-{i}")
        return time.perf_counter() - start
    finally:
        engine.close()


def recovery(workdir: str) -> list[Row]:
    """Open an engine over 10,000 non-terminal workflows (10 activities done, then sleeping)."""
    count = scaled(10_000, floor=100)
    path = os.path.join(workdir, "recovery.duckdb")
    template = synthesize_waiting(waiter, 10, 3600.0)
    write_store(path, {f"rec-{i}": _renamed(template, f"rec-{i}") for i in range(count)})
    result = _child("recover", path, str(count))
    return [
        {
            "section": "recovery",
            "what": f"open an engine over {count:,} sleeping workflows "
            f"({len(template)} events each)",
            "value": result["seconds"],
            "unit": "s",
            "detail": (
                f"{count / result['seconds']:,.0f} workflows/s; store open {result['open']:.2f} s, "
                f"{result['resident']:,} resident"
            ),
            "target": "< 10 s",
            "ok": result["seconds"] < 10,
        }
    ]


def memory(workdir: str) -> list[Row]:
    """RSS per sleeping workflow, all resident and with ``max_resident`` eviction."""
    count = scaled(100_000, floor=1_000)
    path = os.path.join(workdir, "memory.duckdb")
    template = synthesize_waiting(sleeper, 3600.0)
    write_store(path, {f"mem-{i}": _renamed(template, f"mem-{i}") for i in range(count)})
    rows = []
    for label, resident in (("all resident", 0), ("max_resident=1,000", 1_000)):
        result = _child("memory", path, str(count), str(resident))
        per = result["delta"] / count
        rows.append(
            {
                "section": "memory",
                "what": f"{count:,} sleeping workflows, {label}",
                "value": per / 1024,
                "unit": "KB/workflow",
                "detail": (
                    f"RSS {result['rss'] / 2**20:,.0f} MB "
                    f"(baseline {result['base'] / 2**20:,.0f} MB),"
                    f" {result['resident']:,} resident, recovered in {result['seconds']:.1f} s"
                ),
                "target": "< 5 KB" if not resident else "< 300 MB RSS",
                "ok": per < 5 * 1024 if not resident else result["rss"] < 300 * 2**20,
            }
        )
    return rows


def _renamed(history: list[Any], workflow_id: str) -> list[Any]:
    from bench.workloads import clone

    return clone(history, workflow_id)


def _child(*args: str) -> dict[str, Any]:
    """Run a measurement in a fresh interpreter (clean RSS, no warm caches)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.engine_bench", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child_main(argv: list[str]) -> None:
    mode, path = argv[0], argv[1]
    count = int(argv[2])
    if mode == "recover":
        start = time.perf_counter()
        store = DuckDBStore(path)
        opened = time.perf_counter() - start
        engine = aion.Engine(store=store, workflows=[waiter, sleeper], activities=[step])
        seconds = time.perf_counter() - start
        resident = len(engine._runtime.state.instances)
        assert len(engine.store.due_timers()) == count
        engine.close()
        store.close()
        print(json.dumps({"seconds": seconds, "open": opened, "resident": resident}))
        return
    max_resident = int(argv[3]) or None
    import gc

    gc.collect()
    base = _rss()
    start = time.perf_counter()
    kwargs: dict[str, Any] = {"max_resident": max_resident} if max_resident else {}
    engine = aion.Engine(path, workflows=[waiter, sleeper], activities=[step], **kwargs)
    seconds = time.perf_counter() - start
    gc.collect()
    time.sleep(5)  # steady state: a worker's RSS once DuckDB's allocator has purged
    rss = _rss()
    resident = sum(1 for i in engine._runtime.state.instances.values() if i.interp is not None)
    print(
        json.dumps(
            {
                "base": base,
                "rss": rss,
                "delta": rss - base,
                "seconds": seconds,
                "resident": resident,
            }
        )
    )
    engine.close()


def _serve_seeded(path: str, count: int) -> tuple[TimedStore, float]:
    """Serve ``count`` seeded `live` workflows to completion: the (closed) store and seconds.

    Their starts are written first, as a client that enqueued them while no
    worker ran would leave them; the worker is timed from open to the last
    completion.
    """
    seed = DuckDBStore(path)
    now = datetime.now(UTC)
    name = workflow_definition(live).name
    seed.append(
        [
            Append(
                workflow_id=f"live-{i}",
                expected_seq=0,
                events=[
                    WorkflowStarted(
                        seq=1, run_id=str(uuid.uuid4()), recorded_at=now, name=name, args=[20]
                    )
                ],
            )
            for i in range(count)
        ]
    )
    seed.close()
    store = TimedStore(path)
    stop = threading.Event()
    start = time.perf_counter()
    engine = aion.Engine(store=store, workflows=[live], activities=[tick], max_workers=2)
    worker = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    try:
        worker.start()
        deadline = start + 600
        while len(store.workflows(status="completed")) < count:
            assert time.perf_counter() < deadline, "live benchmark did not finish"
            time.sleep(0.01)
        seconds = time.perf_counter() - start
    finally:
        stop.set()
        worker.join()
        engine.close()
        store.close()
    return store, seconds


def _appender_seconds(source: str, target: str, per_commit: int = 1_000) -> tuple[int, float]:
    """DuckDB's appender writing ``source``'s event rows into a fresh store, 1,000 per commit."""
    import duckdb

    from bench.workloads import rows

    reader = DuckDBStore(source, read_only=True)
    try:
        all_rows = [r for wid, h in reader.histories().items() for r in rows(wid, h)]
    finally:
        reader.close()
    DuckDBStore(target).close()  # the same schema and indexes as the engine's file
    con = duckdb.connect(target)
    try:
        con.execute("SET TimeZone = 'UTC'")
        start = time.perf_counter()
        for i in range(0, len(all_rows), per_commit):
            con.execute("BEGIN")
            app = con.appender("events")
            app.append_rows(all_rows[i : i + per_commit])
            app.flush()
            con.execute("COMMIT")
        return len(all_rows), time.perf_counter() - start
    finally:
        con.close()


def live_vs_appender(workdir: str, runs: int = 3) -> list[Row]:
    """The live figure against DuckDB's appender writing the same rows, ``runs`` pairs.

    Each run serves 1,000 seeded workflows on a fresh file, then the appender
    writes that file's event rows into another fresh file 1,000 rows per commit
    (the engine's own commits also update the status projection and timers,
    which the appender does not: the limit is the raw write).
    """
    count = scaled(1_000, floor=20)
    shares, ours, theirs = [], [], []
    for run in range(runs):
        path = os.path.join(workdir, f"pair-{run}.duckdb")
        store, seconds = _serve_seeded(path, count)
        events = store.events
        written, raw = _appender_seconds(path, os.path.join(workdir, f"raw-{run}.duckdb"))
        ours.append(events / seconds)
        theirs.append(written / raw)
        shares.append((events / seconds) / (written / raw))
    share = statistics.median(shares)
    each = ", ".join(f"{o:,.0f} vs {t:,.0f}" for o, t in zip(ours, theirs, strict=True))
    return [
        {
            "section": "live",
            "what": f"{count:,} workflows served, against DuckDB's appender writing the same rows",
            "value": share * 100,
            "unit": "% of the appender",
            "detail": f"median of {runs} runs; events/s aion vs appender: {each}",
            "target": ">= 40%",
            "ok": share >= 0.4,
        }
    ]


def threaded_starts(workdir: str, threads: int = 8, each: int = 250) -> list[Row]:
    """`start()` from ``threads`` threads at once on a serving engine; each returns once durable."""
    path = os.path.join(workdir, "threaded-starts.duckdb")
    engine = aion.Engine(path, workflows=[idle])
    stop = threading.Event()
    server = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
    server.start()
    go = threading.Barrier(threads + 1)

    def starter(t: int) -> None:
        go.wait()
        for i in range(each):
            engine.start(idle, workflow_id=f"t{t}-{i}")

    workers = [threading.Thread(target=starter, args=(t,)) for t in range(threads)]
    try:
        for w in workers:
            w.start()
        go.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        seconds = time.perf_counter() - start
        assert len(engine.list()) == threads * each
    finally:
        stop.set()
        server.join()
        engine.close()
    total = threads * each
    return [
        {
            "section": "live",
            "what": f"{total:,} x start() from {threads} threads (each returns once durable)",
            "value": total / seconds,
            "unit": "starts/s",
            "detail": f"{seconds:.2f} s; starts from many threads share commits",
            "target": ">= 5,000 starts/s",
            "ok": total / seconds >= 5_000,
        }
    ]


def run_all() -> list[Row]:
    """Every engine figure (used by ``python -m bench``)."""
    with tempfile.TemporaryDirectory(prefix="aion-bench-") as workdir:
        return (
            live_run(workdir)
            + live_vs_appender(workdir)
            + threaded_starts(workdir)
            + recovery(workdir)
            + memory(workdir)
        )


if __name__ == "__main__":
    _child_main(sys.argv[1:])
