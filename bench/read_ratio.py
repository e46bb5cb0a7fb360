"""Replay from a DuckDB file against a raw read of the same rows, each a fresh process.

    python -m bench.read_ratio            print the figures (7 paired rounds)

Issue 16's limits: a fresh process that opens a file read-only and replays one
10,000-command history, against a fresh process that connects, runs one
SELECT of the same rows and ``json.loads`` every payload (the least any
reader of that history must do); and `Replayer.replay_store` over 10,000
histories against the raw read of that whole file. Both sides import duckdb
before their clock starts (what is timed is open + read + work + close), and
each round runs one after the other on the same machine, so the ratio holds
while wall-clock figures drift with load. The figure is the median of the
rounds' ratios (aion's throughput as a share of the raw read's).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from bench.workloads import clone, mixed, scaled, sequential, synthesize, write_store

Row = dict[str, Any]
ROUNDS = 7
COLUMNS = "workflow_id, seq, run_id, kind, ordinal, name, payload, recorded_at, source, digest"


def _child(mode: str, path: str) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "bench.read_ratio", mode, path],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    return float(out.stdout.strip().splitlines()[-1])


def _serve(mode: str, path: str) -> None:
    """One measured read in this (fresh) process; prints its seconds."""
    import json
    import time

    import duckdb

    if mode.startswith("aion"):
        import aion
        from aion.store import DuckDBStore
        from bench.workloads import REGISTRY

        DuckDBStore.__init__  # noqa: B018 - load the class before the clock starts
    t0 = time.perf_counter()
    if mode == "raw-one":
        con = duckdb.connect(path, read_only=True)
        rows = con.execute(
            f"SELECT {COLUMNS} FROM events WHERE workflow_id = ? ORDER BY seq", ["one"]
        ).fetchall()
        decoded = [json.loads(r[6]) if r[6] is not None else None for r in rows]
        con.close()
        assert len(decoded) > 1
    elif mode == "raw-bulk":
        con = duckdb.connect(path, read_only=True)
        rows = con.execute(f"SELECT {COLUMNS} FROM events ORDER BY workflow_id, seq").fetchall()
        decoded = [json.loads(r[6]) if r[6] is not None else None for r in rows]
        con.close()
        assert len(decoded) > 1
    elif mode == "aion-one":
        store = DuckDBStore(path, read_only=True)
        result = aion.replay(sequential, store.history("one"), registry=REGISTRY)
        store.close()
        assert result.ok and result.status == "completed", result
    elif mode == "aion-bulk":
        replayer = aion.Replayer([mixed], [])
        replayer.registry = REGISTRY
        store = DuckDBStore(path, read_only=True)
        summary = replayer.replay_store(store)
        store.close()
        assert summary.ok == summary.replayed, summary
    print(time.perf_counter() - t0)


def _paired(aion_mode: str, raw_mode: str, path: str) -> tuple[list[float], list[float]]:
    ours, raws = [], []
    for _ in range(ROUNDS):
        ours.append(_child(aion_mode, path))
        raws.append(_child(raw_mode, path))
    return ours, raws


def _row(what: str, ours: list[float], raws: list[float], work: int, unit: str, goal: float) -> Row:
    shares = [r / o for o, r in zip(ours, raws, strict=True)]
    share = statistics.median(shares)
    return {
        "section": "read ratio",
        "what": what,
        "value": share * 100,
        "unit": "% of a raw read",
        "detail": (
            f"median of {ROUNDS} paired rounds, min {min(shares) * 100:.0f}% max "
            f"{max(shares) * 100:.0f}%; aion {work / statistics.median(ours):,.0f} {unit}, "
            f"raw read {work / statistics.median(raws):,.0f} {unit} (open included)"
        ),
        "target": f">= {goal * 100:.0f}%",
        "ok": share >= goal,
    }


def run_all() -> list[Row]:
    """Both figures (used by ``python -m bench``)."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="aion-read-") as workdir:
        steps = scaled(10_000)
        one = os.path.join(workdir, "one.duckdb")
        history = synthesize(sequential, steps, workflow_id="one")
        write_store(one, {"one": history})
        ours, raws = _paired("aion-one", "raw-one", one)
        rows.append(
            _row(
                f"fresh process: open + replay one {steps:,}-command history "
                f"({len(history):,} events)",
                ours,
                raws,
                len(history),
                "events/s",
                0.8,
            )
        )
        count = scaled(10_000, floor=100)
        template = synthesize(mixed, 20, workflow_id="template")
        bulk = os.path.join(workdir, "bulk.duckdb")
        write_store(bulk, {f"bulk-{i}": clone(template, f"bulk-{i}") for i in range(count)})
        ours, raws = _paired("aion-bulk", "raw-bulk", bulk)
        rows.append(
            _row(
                f"fresh process: Replayer.replay_store over {count:,} histories "
                f"({len(template)} events each)",
                ours,
                raws,
                count,
                "workflows/s",
                0.6,
            )
        )
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _serve(sys.argv[1], sys.argv[2])
    else:
        for row in run_all():
            print(f"{row['what']}: {row['value']:.0f}{row['unit']} ({row['detail']})")
