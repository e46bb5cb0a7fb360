"""Start-up CPU: ``import aion``, ``aion --help``, ``aion list``, and one determinism-kit call.

    python -m bench.startup_bench          (or AION_BENCH_ONLY=startup python -m bench)

Short processes are what a user waits for at a prompt and what CI pays per
test, so each figure is a whole fresh process measured by the kernel's own
accounting of its CPU time (user + system, children included), the median of
`RUNS` runs with the range printed. CPU time rather than wall time: on a
shared machine wall time moves with the load, CPU time much less. An empty
interpreter (``python -c pass``) is measured in the same rounds, interleaved,
so the part that is aion's can be read off.

Byte-code caches are used as an installed package has them (a first run
writes them under a temporary ``PYTHONPYCACHEPREFIX``, so the tree is left
alone); ``AION_BENCH_NO_PYC=1`` measures compiling from source instead.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("AION_STARTUP_RUNS", "20"))
#: What issues 15, 16 and 17 ask of each figure.
KIT_WALL = "assert_deterministic, defaults: wall"
KIT_CPU = "assert_deterministic, defaults: CPU"
TARGETS = {
    "import aion": 0.075,
    "aion --help": 0.300,
    "aion list (3 workflows)": 0.300,
    KIT_WALL: 2.0,
}
KIT_LABEL = "defaults (memory, 20 schedules, 10 hash seeds)"

Row = dict[str, Any]


def _env(pycache: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "AION_DB")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["NO_COLOR"] = "1"
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _cpu(argv: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + sys) of one run of ``argv`` and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _build(path: Path) -> None:
    from bench.cli_bench import build

    build(path, 3)


def measure() -> dict[str, list[float]]:
    """CPU seconds per run of each command, the commands interleaved round by round."""
    no_pyc = os.environ.get("AION_BENCH_NO_PYC") == "1"
    with tempfile.TemporaryDirectory(prefix="aion-startup-") as folder:
        db = Path(folder) / "small.duckdb"
        _build(db)
        env = _env(None if no_pyc else str(Path(folder) / "pyc"))
        py = sys.executable
        commands = {
            "python -c pass": [py, "-c", "pass"],
            "import aion": [py, "-c", "import aion"],
            "aion --help": [py, "-m", "aion_cli", "--help"],
            "aion list (3 workflows)": [py, "-m", "aion_cli", "--db", str(db), "list"],
        }
        for argv in commands.values():  # warm-up: byte-code caches, page cache
            _cpu(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, argv in commands.items():
                samples[name].append(_cpu(argv, env))
        kit = [py, "-m", "bench.kit_speed", KIT_LABEL]
        for n in range(6):  # the first is a warm-up
            done = subprocess.run(
                kit, env=env, cwd=ROOT, capture_output=True, text=True, check=True
            )
            # "<label>   1.23 s wall   2.34 s CPU": the call alone, its servers included
            words = done.stdout.split()
            if n:
                samples.setdefault(KIT_WALL, []).append(float(words[-6]))
                samples.setdefault(KIT_CPU, []).append(float(words[-3]))
    return samples


def run_all() -> list[Row]:
    """The start-up rows (used by ``python -m bench``)."""
    samples = measure()
    base = statistics.median(samples["python -c pass"])
    load = os.getloadavg()[0]
    rows: list[Row] = []
    for name, values in samples.items():
        median = statistics.median(values)
        spread = f"median of {len(values)} (min {min(values):.3f}, max {max(values):.3f} s)"
        if name in (KIT_WALL, KIT_CPU):
            unit = "ms wall" if name == KIT_WALL else "ms CPU"
            detail = (
                "one call on a small workflow in a fresh process (`python -m bench.kit_speed`), "
                f"its 10 replay interpreters included; {spread}"
            )
        else:
            unit = "ms CPU"
            detail = f"whole process, {spread}"
            if name != "python -c pass":
                detail += f"; {median - base:.3f} s beyond an empty interpreter"
        target = TARGETS.get(name)
        rows.append(
            {
                "section": "startup",
                "what": name,
                "value": median * 1000,
                "unit": unit,
                "detail": f"{detail}; load {load:.2f}",
                "target": f"< {target * 1000:,.0f} ms" if target else "",
                "ok": None if target is None else median < target,
            }
        )
    return rows


def main() -> None:
    """Print the rows as BENCHMARKS.md's table shows them."""
    from bench.report import table as _table

    print(_table(run_all()))


if __name__ == "__main__":
    main()
