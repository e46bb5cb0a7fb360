"""Sample workflows and activities the CLI tests run, inspect, replay and debug.

Kept tiny and deterministic: activities are pure, so histories recorded under
a `ManualClock` are the same on every run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aion


@aion.activity
def charge(order_id: str, cents: int) -> str:
    return f"rcpt-{order_id}-{cents}"


@aion.activity(retry=aion.RetryPolicy(max_attempts=3, initial_interval=timedelta(seconds=2)))
def flaky(key: str) -> str:
    info = aion.activity_info()
    if info.attempt < 2:
        raise RuntimeError(f"transient failure {info.attempt}")
    return f"ok-{key}"


@aion.workflow
def order(order_id: str, cents: int) -> Any:
    receipt = yield aion.call(charge, order_id, cents)
    yield aion.sleep(timedelta(seconds=30))
    total = cents * 2
    return {"receipt": receipt, "total": total}


@aion.workflow
def approval(order_id: str) -> Any:
    stage = "charging"
    yield aion.on_query("stage", lambda: stage)
    receipt = yield aion.call(charge, order_id, 100)
    stage = "awaiting approval"
    approved = yield aion.receive_signal("approve")
    stage = "done"
    return {"receipt": receipt, "approved": approved}


@aion.workflow
def retrying(key: str) -> Any:
    value = yield aion.call(flaky, key)
    return value


@aion.workflow
def quick(n: int) -> Any:
    doubled = yield aion.call(double, n)
    yield aion.sleep(timedelta(milliseconds=200))
    return doubled + 1


@aion.activity
def double(n: int) -> int:
    return n * 2


@aion.workflow
def broken(n: int) -> Any:
    yield aion.call(double, n)
    msg = f"broken on {n}"
    raise ValueError(msg)
