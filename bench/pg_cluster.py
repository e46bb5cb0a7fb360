"""Many workers on one PostgreSQL server: events/s with 1, 2 and 4 workers, takeover time.

    python -m bench.pg_cluster [DSN]          print the figures
    python -m bench.pg_cluster worker URL L   one worker process (what the figures spawn)

Scaling: W worker processes (`aion._cluster.ClusterWorker`) serve one fresh
schema; `aion.Client` starts chains of no-op activities (bench.live_core's
``chain``) and the figure is every event committed from the first start to
the last completion, divided by that time. Takeover: a worker owning
workflows that wait for a signal is SIGKILLed and the signals are sent at
that moment; the figure is the time until another worker has taken the
workflows over and they completed (the goal is within lease + 1 s). Each
figure says the load average and the CPU count beside it: on a 2-core
machine, 4 worker processes and the server share two cores, so the figures
show contention, not the scaling a larger machine would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import psycopg

import aion
from aion._cluster import ClusterWorker
from bench.live_core import chain, noop
from bench.workloads import scaled

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
Row = dict[str, Any]
#: The lease of the takeover figure (seconds): the goal is takeover within this + 1 s.
LEASE = 3.0


@aion.workflow
def waiter():  # type: ignore[no-untyped-def]
    """Waits for ``go``, then runs one activity: what a dead worker leaves behind."""
    yield aion.receive_signal("go")
    return (yield aion.call(noop, 1))


def _worker_main(url: str, lease: float) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = ClusterWorker(
        url, workflows=[chain, waiter], activities=[noop], lease_seconds=lease, max_workers=4
    )
    thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    thread.start()
    while not worker.started.wait(0.05) and thread.is_alive():
        pass
    print("ready", flush=True)
    while thread.is_alive():
        thread.join(0.2)


def _spawn(url: str, lease: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.pg_cluster", "worker", url, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", "a bench worker did not start"
    return proc


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def _events(dsn: str, schema: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {schema}.events").fetchone()
    return int(row[0]) if row else 0


def _load() -> str:
    one, five, _ = os.getloadavg()
    return (
        f"load average {one:.2f} / {five:.2f} (1 / 5 min); {os.cpu_count()} CPUs shared by "
        "the server, every worker and the client"
    )


def scaling(dsn: str, workers: int, workflows: int, activities: int) -> tuple[float, str]:
    """Events/s committed by ``workers`` processes serving ``workflows`` chains."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{dsn}?aion_schema={schema}"
    client = aion.Client(url, workflows=[chain])
    procs = [_spawn(url, 10.0) for _ in range(workers)]
    try:
        began = time.perf_counter()
        for w in range(workflows):
            client.start(chain, activities, workflow_id=f"w{w}")
        while len(client.list(status="completed")) < workflows:
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        load = _load()
    finally:
        _stop(procs)
        client.close()
    events = _events(dsn, schema)
    _drop(dsn, schema)
    return events / seconds, f"{events:,} events in {seconds:.1f} s; {load}"


def takeover(dsn: str, workflows: int) -> tuple[float, str]:
    """Seconds from SIGKILLing the owner until another worker completed its workflows."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{dsn}?aion_schema={schema}"
    client = aion.Client(url, workflows=[waiter])
    owner = _spawn(url, LEASE)
    spare: list[subprocess.Popen[str]] = []
    try:
        for w in range(workflows):
            client.start(waiter, workflow_id=f"t{w}")
        while any(not d.pending for d in (client.describe(f"t{w}") for w in range(workflows))):
            time.sleep(0.05)  # every one recorded its wait: the owner has them all
        spare.append(_spawn(url, LEASE))
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        killed = time.perf_counter()
        for w in range(workflows):
            client.signal(f"t{w}", "go")
        while len(client.list(status="completed")) < workflows:
            time.sleep(0.02)
        seconds = time.perf_counter() - killed
        load = _load()
    finally:
        _stop([owner, *spare])
        client.close()
    _drop(dsn, schema)
    return seconds, f"lease {LEASE:g} s, {workflows} workflows waiting for a signal; {load}"


def _drop(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run_all(dsn: str | None = None) -> list[Row]:
    """The PostgreSQL multi-worker rows of BENCHMARKS.md."""
    dsn = dsn or os.environ.get("AION_BENCH_POSTGRES", DEFAULT_DSN)
    workflows, activities = scaled(400), 20
    rows: list[Row] = []
    rates: dict[int, float] = {}
    for workers in (1, 2, 4):
        rate, detail = scaling(dsn, workers, workflows, activities)
        rates[workers] = rate
        rows.append(
            {
                "section": "postgres",
                "what": f"{workers} worker process(es), {workflows} x {activities} activities",
                "value": rate,
                "unit": "events/s",
                "detail": f"{detail}; x{rate / rates[1]:.2f} of 1 worker",
                "target": "near-linear while the server is not the bottleneck",
                "ok": None,
            }
        )
    seconds, detail = takeover(dsn, scaled(50))
    rows.append(
        {
            "section": "postgres",
            "what": "takeover after SIGKILL of the owner, until its workflows completed",
            "value": seconds,
            "unit": "s",
            "detail": detail,
            "target": f"<= lease + 1 s ({LEASE + 1:g} s)",
            "ok": seconds <= LEASE + 1,
        }
    )
    return rows


def main() -> None:
    """Print the figures (or run one worker, for the figures' subprocesses)."""
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        _worker_main(sys.argv[2], float(sys.argv[3]))
        return
    dsn = sys.argv[1] if len(sys.argv) > 1 else None
    for row in run_all(dsn):
        print(f"{row['what']}: {row['value']:,.2f} {row['unit']} ({row['detail']})", flush=True)


if __name__ == "__main__":
    main()
