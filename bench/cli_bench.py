"""CLI figures: `aion --help`, `aion list` on a small file and on 5,000 workflows.

Each command runs as a real process (``python -m aion_cli``), as a user runs
it; the figure is the median wall time over a few runs, start-up included.
Run with ``python -m bench.cli_bench`` from the repository root.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aion.events import WorkflowCompleted, WorkflowStarted
from aion.store import Append, DuckDBStore

RUNS = 7


def build(path: Path, count: int) -> None:
    """``count`` completed workflows, one started per second, appended in one batch."""
    store = DuckDBStore(path)
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        appends = []
        for n in range(count):
            run_id = str(uuid.uuid4())
            at = epoch + timedelta(seconds=n)
            started = WorkflowStarted(
                seq=1, run_id=run_id, recorded_at=at, name="order", args=[n], code="app:order"
            )
            done = WorkflowCompleted(seq=2, run_id=run_id, recorded_at=at, result=n)
            appends.append(
                Append(workflow_id=f"order-{n:05d}", expected_seq=0, events=[started, done])
            )
        store.append(appends)
    finally:
        store.close()


def timed(*args: str) -> float:
    """Median wall seconds of ``python -m aion_cli ARGS`` (output discarded)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    samples = []
    for _ in range(RUNS):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "aion_cli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> None:
    """Print one line per figure."""
    with tempfile.TemporaryDirectory() as folder:
        small, large = Path(folder) / "small.duckdb", Path(folder) / "large.duckdb"
        build(small, 3)
        build(large, 5000)
        rows = [
            ("aion --help", timed("--help")),
            ("aion list (3 workflows)", timed("--db", str(small), "list")),
            ("aion list (5,000; newest 50)", timed("--db", str(large), "list")),
            ("aion list --all (5,000)", timed("--db", str(large), "list", "--all")),
            (
                "aion list --all --json (5,000)",
                timed("--db", str(large), "list", "--all", "--json"),
            ),
        ]
    for name, seconds in rows:
        print(f"{name:34} {seconds * 1000:8.0f} ms (median of {RUNS}, whole process)")


if __name__ == "__main__":
    main()
