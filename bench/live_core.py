"""Issue 2's live figure: 200 concurrent workflows of 20 activities each on a DuckDB file.

    python -m bench.live_core [WORKFLOWS] [ACTIVITIES]

Starts every workflow through `Engine.start` (each start is durable when it
returns), then serves until all complete, and prints events committed per
second over the serving phase and overall.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time

import aion
from bench.engine_bench import TimedStore


@aion.activity
def noop(i: int) -> int:
    """An activity that does nothing (measures the engine, not the work)."""
    return i


@aion.workflow
def chain(n: int):  # type: ignore[no-untyped-def]
    """``n`` sequential no-op activities."""
    total = 0
    for i in range(n):
        total += yield aion.call(noop, i)
    return total


def main(workflows: int = 200, activities: int = 20) -> None:
    """Run the figure and print it."""
    with tempfile.TemporaryDirectory() as workdir:
        store = TimedStore(os.path.join(workdir, "live.duckdb"))
        engine = aion.Engine(store=store, workflows=[chain], activities=[noop], max_workers=2)
        began = time.perf_counter()
        for w in range(workflows):
            engine.start(chain, activities, workflow_id=f"w{w}")
        started = time.perf_counter()
        committed_before = store.events
        stop = threading.Event()
        worker = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
        worker.start()
        while len(store.workflows(status="completed")) < workflows:
            time.sleep(0.005)
        done = time.perf_counter()
        stop.set()
        worker.join()
        engine.close()
        serving = store.events - committed_before
        print(
            f"{workflows} workflows x {activities} activities: {store.events} events in "
            f"{store.commits} commits; serving {serving / (done - started):,.0f} events/s "
            f"({done - started:.2f} s); overall incl. {workflows} durable starts "
            f"{store.events / (done - began):,.0f} events/s ({done - began:.2f} s)"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
