"""Load: many workflows, many signals from 8 threads and another process, timers firing.

Every workflow sleeps (a durable timer fires), then consumes its share of the
signals and returns them. Signals come from 8 threads in this process and
from a separate process that talks to a loopback TCP server here (DuckDB
allows one process per file, so other processes go through the worker).
Checked: every accepted signal is consumed exactly once, none is lost or
invented, and the process's resident memory stays bounded.

The suite runs a small version; ``nox -s load`` (``AION_LOAD_FULL=1``) runs
10,000 workflows and 100,000 signals and prints its figures.
"""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aion

FULL = os.environ.get("AION_LOAD_FULL") == "1"
WORKFLOWS = 10_000 if FULL else 200
SIGNALS = 100_000 if FULL else 2_000
THREADS = 8
SENDERS = THREADS + 1  # the ninth share goes through the other process

CLIENT = """
import socket, sys
port, lines = int(sys.argv[1]), sys.stdin.read().splitlines()
with socket.create_connection(("127.0.0.1", port)) as s:
    f = s.makefile("rw")
    for line in lines:
        f.write(line + "\\n"); f.flush()
        if f.readline().strip() != "ok":
            sys.exit(1)
print(len(lines))
"""


@aion.workflow(name="load.counter")
def counter(n: int) -> Any:
    yield aion.sleep(timedelta(seconds=0.05))
    got = []
    for _ in range(n):
        got.append((yield aion.receive_signal("tick")))
    return got


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_signals_from_threads_and_a_process_while_timers_fire(tmp_path: Path) -> None:
    engine = aion.Engine(str(tmp_path / "load.duckdb"), workflows=[counter])
    stop = threading.Event()
    server_thread = threading.Thread(target=engine.serve, args=(stop,))
    server_thread.start()
    started = time.monotonic()
    rss = [_rss_mb()]
    per = SIGNALS // WORKFLOWS
    handles = [engine.start(counter, per, workflow_id=f"c{i}") for i in range(WORKFLOWS)]
    start_seconds = time.monotonic() - started

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for raw in self.rfile:
                workflow_id, payload = raw.decode().split()
                engine.signal(workflow_id, "tick", int(payload))
                self.wfile.write(b"ok\n")

    tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    share = [(f"c{i % WORKFLOWS}", i) for i in range(SIGNALS) if i % SENDERS == THREADS]
    other = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(tcp.server_address[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdin is not None
    other.stdin.write("".join(f"{w} {p}\n" for w, p in share))
    other.stdin.close()

    def sender(t: int) -> None:
        for i in range(t, SIGNALS, SENDERS):
            engine.signal(f"c{i % WORKFLOWS}", "tick", i)
            if i % 5000 == t:
                rss.append(_rss_mb())

    signal_started = time.monotonic()
    threads = [threading.Thread(target=sender, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert other.wait(timeout=600) == 0
    assert other.stdout is not None
    assert int(other.stdout.read()) == len(share)
    signal_seconds = time.monotonic() - signal_started
    results = {h.id: h.result(timeout=600) for h in handles}
    total_seconds = time.monotonic() - started
    rss.append(_rss_mb())
    stop.set()
    server_thread.join()
    tcp.shutdown()
    tcp.server_close()

    received = sorted(p for values in results.values() for p in values)
    assert received == list(range(SIGNALS))  # nothing lost, nothing duplicated or invented
    for i, (workflow_id, values) in enumerate(
        sorted(results.items(), key=lambda kv: int(kv[0][1:]))
    ):
        assert workflow_id == f"c{i}"
        assert sorted(values) == list(range(i, SIGNALS, WORKFLOWS))
    assert all(info.status == "completed" for info in engine.list())
    timers = sum(1 for e in engine.history("c0") if type(e).__name__ == "TimerFired")
    assert timers == 1
    engine.close()
    growth = max(rss) - rss[0]
    print(
        f"\nload: {WORKFLOWS} workflows started in {start_seconds:.1f}s; {SIGNALS} signals "
        f"({len(share)} from another process) in {signal_seconds:.1f}s "
        f"({SIGNALS / signal_seconds:,.0f}/s); all done in {total_seconds:.1f}s; "
        f"RSS {rss[0]:.0f} MB -> peak {max(rss):.0f} MB (+{growth:.0f} MB)"
    )
    assert growth < (1500 if FULL else 300)
