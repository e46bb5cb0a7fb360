"""How long `assert_deterministic` takes on a small workflow with its defaults (issue 17 item 9).

    python -m bench.kit_speed

Each figure is from a fresh process, as in CI: the first call pays for its
10 replay interpreters (each call draws its own hash seeds). Printed: wall
time and CPU time (this process plus the interpreters it started) for

* the defaults (20 schedules, memory store, 10 hash seeds),
* the same without the cross-process check (``hash_seeds=0``),
* ``store="duckdb"`` (4 schedules, 2 crash points each), with and without them.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Generator
from typing import Any

import aion

#: Options of each measured call, by label.
CASES: dict[str, dict[str, Any]] = {
    "defaults (memory, 20 schedules, 10 hash seeds)": {},
    "defaults without hash seeds (hash_seeds=0)": {"hash_seeds": 0},
    'store="duckdb" (4 schedules x 2 crash points, 10 hash seeds)': {"store": "duckdb"},
    'store="duckdb" without hash seeds': {"store": "duckdb", "hash_seeds": 0},
}


@aion.activity
def greet(name: str) -> str:
    """A pure activity."""
    return f"hello {name}"


@aion.workflow
def small(names: list[str]) -> Generator[Any, Any, list[str]]:
    """Greet each name, then sleep a minute: a few commits, a timer."""
    out = []
    for name in names:
        out.append((yield aion.call(greet, name)))
    yield aion.sleep(60)
    return out


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(label: str) -> None:
    """Time one call in this (fresh) process and print the figures."""
    from aion.testing import _hashseeds, assert_deterministic

    wall, cpu = time.perf_counter(), _cpu()
    assert_deterministic(small, ["ada", "bob"], activities=[greet], **CASES[label])
    wall = time.perf_counter() - wall
    _hashseeds.POOL.close()  # the interpreters' CPU is counted once they are reaped
    print(f"{label:<64} {wall:6.2f} s wall {_cpu() - cpu:6.2f} s CPU", flush=True)


def main() -> None:
    """Measure each case in a process of its own."""
    if len(sys.argv) > 1:
        measure(sys.argv[1])
        return
    for label in CASES:
        subprocess.run([sys.executable, "-m", "bench.kit_speed", label], check=True)


if __name__ == "__main__":
    main()
