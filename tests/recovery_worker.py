"""A worker process for the SIGKILL recovery test: runs pipelines on a DuckDB file.

    python -m tests.recovery_worker DB LOG

Every activity execution is appended (and fsynced) to LOG as
``idempotency_key attempt`` before it returns, so the parent can kill this
process at a chosen point and later check what ran again.
"""

from __future__ import annotations

import os
import sys
import time

import aion

LOG = os.environ.get("AION_RECOVERY_LOG", "executions.log")


@aion.activity
def work(name: str, step: int) -> str:
    info = aion.activity_info()
    time.sleep(0.03)
    with open(LOG, "a") as f:
        f.write(f"{info.idempotency_key} {info.attempt}\n")
        f.flush()
        os.fsync(f.fileno())
    return f"{name}:{step}"


@aion.workflow
def pipeline(name: str):  # type: ignore[no-untyped-def]
    results = []
    for step in range(3):
        results.append((yield aion.call(work, name, step)))
    yield aion.sleep(0.2)
    results += yield aion.collect_all([aion.call(work, name, 10 + i) for i in range(2)])
    return results


NAMES = ["p1", "p2", "p3"]


def expected(name: str) -> list[str]:
    """What an uninterrupted run of ``pipeline(name)`` returns."""
    return [f"{name}:{s}" for s in (0, 1, 2, 10, 11)]


def main(db: str, log: str) -> None:
    global LOG
    LOG = log
    with aion.Engine(db, workflows=[pipeline], activities=[work]) as engine:
        known = {i.workflow_id for i in engine.list()}
        for name in NAMES:
            if name not in known:
                engine.start(pipeline, name, workflow_id=name)
        for name in NAMES:
            engine.run_until_complete(name, timeout=60)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
