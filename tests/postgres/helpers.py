"""Shared pieces of the PostgreSQL tests: events, bounded polling, a second process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aion._events import SignalReceived, WorkflowStarted

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def started(workflow_type: str = "flow") -> WorkflowStarted:
    return WorkflowStarted(seq=1, run_id="r1", recorded_at=T0, name=workflow_type, args=[])


def sig(seq: int, name: str = "s", payload: Any = None) -> SignalReceived:
    return SignalReceived(seq=seq, run_id="r1", recorded_at=T0, name=name, payload=payload)


def until(what: str, check: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll an observable condition (bounded; a failure says what never happened)."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never observed: {what}")
        time.sleep(0.02)


def spawn(mode: str, url: str) -> subprocess.Popen[str]:
    """Start ``tests.postgres.pg_proc MODE URL`` with pipes to talk to it."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.postgres.pg_proc", mode, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def read(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The next JSON line the process reported."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"the process ended (rc={proc.wait()}) without reporting"
    return json.loads(line)  # type: ignore[no-any-return]


def backend_gone(admin: Any, pid: int) -> bool:
    """Whether the server backend ``pid`` has ended."""
    count = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
    return bool(count.fetchone()[0] == 0)
