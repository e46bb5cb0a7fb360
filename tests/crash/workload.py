"""The campaign's mixed workload: activities with retries, sleeps, signals, composites, children.

Continue-as-new is exercised two ways: a collector taking signals the campaign
sends one by one, and a relay child that a burst workflow signals several
times in the batch that starts it (so signals arrive in the same batch as the
one that makes the run continue as new).

Child cancellation is exercised three ways by a canceller: a child that loses
a `collect_race`, one cut off by a `with_timeout` deadline, and one started
with ``ParentClose.CANCEL`` that its parent's completion cancels. Each child
compensates (an activity) before it ends cancelled.

Every workflow's result depends only on its input and on the signals sent to
it (never on timing), so a crash-free run of the same schedule must end with
exactly the same results. Activities append ``incarnation key attempt`` to an
execution log before they act, which is how the campaign proves that an
activity whose completion was recorded never ran again.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import aion

RETRY = aion.RetryPolicy(max_attempts=4, initial_interval=timedelta(seconds=0.05), backoff=2.0)
_LOG = {"fd": -1, "incarnation": 0}


def configure(log_path: str, incarnation: int) -> None:
    """Point the activities' execution log at ``log_path`` for this process."""
    _LOG["fd"] = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _LOG["incarnation"] = incarnation


def _executed() -> int:
    info = aion.activity_info()
    if _LOG["fd"] >= 0:  # one write(2) per line: atomic, and survives SIGKILL (page cache)
        line = f"{_LOG['incarnation']} {info.idempotency_key} {info.attempt}\n"
        os.write(_LOG["fd"], line.encode())
    return info.attempt


@aion.activity(name="crash.flaky", retry=RETRY)
def flaky(x: int, fails: int) -> int:
    """Fails its first ``fails`` attempts, then doubles ``x``."""
    if _executed() <= fails:
        msg = f"flaky failure of {x}"
        raise RuntimeError(msg)
    time.sleep(0.01)
    return x * 2


@aion.activity(name="crash.slow", retry=RETRY)
def slow(x: int, ms: int) -> int:
    """Takes ``ms`` milliseconds to add one."""
    _executed()
    time.sleep(ms / 1000)
    return x + 1


@aion.workflow(name="crash.pipeline")
def pipeline(seed: int) -> Any:
    """Retries, a sleep, collect_all, collect_map, with_timeout both ways and a race."""
    a = yield aion.call(flaky, seed, seed % 3)
    yield aion.sleep(timedelta(seconds=0.2 * (1 + seed % 4)))
    parts = yield aion.collect_all(
        [aion.call(slow, a, 30), aion.call(flaky, a + 1, 1), aion.call(slow, a + 2, 5)]
    )
    mapped = yield aion.collect_map(slow, [(seed + i, 5) for i in range(4)], concurrency=2)
    # The deadline is durable wall-clock time, and it runs on while the worker is
    # being killed and restarted: under load a 30 s deadline expired in 3 of 300
    # kills before a 20 ms activity could commit. An hour keeps the result timing-free.
    fast = yield aion.with_timeout(timedelta(hours=1), aion.call(slow, seed, 20))
    try:
        yield aion.with_timeout(timedelta(seconds=0.3), aion.receive_signal("never"))
        late = "signal"
    except aion.Timeout:
        late = "timeout"
    index, _ = yield aion.collect_race(
        [aion.sleep(timedelta(seconds=0.2)), aion.receive_signal("never")]
    )
    return {"a": a, "parts": parts, "mapped": mapped, "fast": fast, "late": late, "race": index}


@aion.workflow(name="crash.collector")
def collector(expected: int, got: list[int]) -> Any:
    """Consumes ``expected`` signals, continuing as new after every third."""
    while len(got) < expected:
        payload = yield aion.receive_signal("item")
        got = [*got, payload["sid"]]
        if len(got) % 3 == 0 and len(got) < expected:
            yield aion.continue_as_new(expected, got)
    return sorted(got)


@aion.workflow(name="crash.child")
def child(i: int) -> int:
    """A short child: an activity and a sleep."""
    value = yield aion.call(slow, i, 10)
    yield aion.sleep(timedelta(seconds=0.3))
    return int(value) * 10


@aion.workflow(name="crash.parent")
def parent(n: int) -> Any:
    """Starts ``n`` children, awaits them, and totals their results with a flaky call."""
    handles = []
    for i in range(n):
        handles.append((yield aion.start_child(child, i)))
    results = []
    for handle in handles:
        results.append((yield aion.await_child(handle)))
    total = yield aion.call(flaky, sum(results), 1)
    return {"children": results, "total": total}


@aion.workflow(name="crash.relay")
def relay(expected: int, got: list[int]) -> Any:
    """Takes one signal per run, continuing as new after each, until it has ``expected``."""
    payload = yield aion.receive_signal("item")
    got = [*got, payload["sid"]]
    if len(got) < expected:
        yield aion.continue_as_new(expected, got)
    return got


@aion.workflow(name="crash.burst")
def burst(base: int, n: int) -> Any:
    """Starts a relay child and sends it ``n`` signals at once, then awaits it.

    The child's start and all the signals are committed in one batch, so the
    first signal makes the child continue as new while the others are in the
    same batch: each must still be consumed exactly once, in order.
    """
    handle = yield aion.start_child(relay, n, [])
    yield aion.collect_all(
        [aion.send_signal(handle.workflow_id, "item", {"sid": base + i}) for i in range(n)]
    )
    got = yield aion.await_child(handle)
    return {"got": got, "in_order": got == [base + i for i in range(n)]}


@aion.workflow(name="crash.waiter")
def waiter(i: int) -> Any:
    """Waits for a signal nobody sends; cancelled, it compensates and ends cancelled."""
    try:
        yield aion.receive_signal("never")
    except aion.Cancelled:
        yield aion.call(slow, i, 5)  # the compensation must run, exactly once
        raise
    return "signalled"


@aion.workflow(name="crash.canceller")
def canceller(i: int) -> Any:
    """Cancels a child by a lost race, by a deadline, and by its parent-close policy."""
    index, _ = yield aion.collect_race(
        [aion.await_child(waiter, i), aion.sleep(timedelta(seconds=0.2))]
    )
    try:
        yield aion.with_timeout(timedelta(seconds=0.2), aion.await_child(waiter, i + 1))
        cut = "signalled"
    except aion.Timeout:
        cut = "timeout"
    yield aion.start_child(waiter, i + 2, parent_close=aion.ParentClose.CANCEL)
    return {"race": index, "cut": cut}


WORKFLOWS = [pipeline, collector, child, parent, relay, burst, waiter, canceller]
ACTIVITIES = [flaky, slow]


def wave(index: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Wave ``index`` of the schedule: (starts, signals), derived from the seed alone."""
    base = (seed * 7919 + index * 104729) % 1000
    starts: list[dict[str, Any]] = [
        {"id": f"w{index}-pipe0", "workflow": "crash.pipeline", "args": [base]},
        {"id": f"w{index}-pipe1", "workflow": "crash.pipeline", "args": [base + 1]},
        {"id": f"w{index}-parent", "workflow": "crash.parent", "args": [1 + base % 3]},
    ]
    count = 4 + base % 4
    starts.append({"id": f"w{index}-coll", "workflow": "crash.collector", "args": [count, []]})
    starts.append(
        {"id": f"w{index}-burst", "workflow": "crash.burst", "args": [index * 100, 2 + base % 3]}
    )
    starts.append({"id": f"w{index}-cancel", "workflow": "crash.canceller", "args": [base]})
    signals = [
        {"id": f"w{index}-coll", "name": "item", "payload": {"sid": index * 100 + j}}
        for j in range(count)
    ]
    return starts, signals
