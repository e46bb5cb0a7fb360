"""Engine figures: live throughput and latency, recovery, memory per sleeping workflow."""

from __future__ import annotations

import json
import os
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
    path = os.path.join(workdir, "live.duckdb")
    seed = DuckDBStore(path)
    now = datetime.now(UTC)
    seed.append(
        [
            Append(
                workflow_id=f"live-{i}",
                expected_seq=0,
                events=[
                    WorkflowStarted(
                        seq=1,
                        run_id=str(uuid.uuid4()),
                        recorded_at=now,
                        name=workflow_definition(live).name,
                        args=[20],
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


def run_all() -> list[Row]:
    """Every engine figure (used by ``python -m bench``)."""
    with tempfile.TemporaryDirectory(prefix="aion-bench-") as workdir:
        return live_run(workdir) + recovery(workdir) + memory(workdir)


if __name__ == "__main__":
    _child_main(sys.argv[1:])
