"""Changed code under the names of `tests.fixture_workflows`: the bad twins' code.

Every workflow here is registered under the same name as its original and
differs in one way a replay must report (an argument, a duration, a signal
name, an order, a concurrency, a continue-as-new input, a patch id). Each
bad-twin fixture replays the original's good history against this module
and expects a divergence at the seq of the first changed decision.
"""

from __future__ import annotations

from datetime import timedelta

import aion
from tests.fixture_workflows import (
    W,
    child_double,
    double,
    flaky,
    greet,
    reject,
    signal_child,
)

__all__ = ["child_double", "double", "flaky", "greet", "reject", "signal_child"]


@aion.workflow
def call_one(x: int) -> W:
    return (yield aion.call(double, x + 1))


@aion.workflow
def sleep_then_call(x: int) -> W:
    yield aion.sleep(timedelta(hours=2))
    return (yield aion.call(double, x))


@aion.workflow
def now_and_later() -> W:
    start = yield aion.now()
    yield aion.sleep(91)
    end = yield aion.now()
    return (end - start).total_seconds()


@aion.workflow
def random_and_uuid() -> W:
    u = yield aion.uuid4()
    r = yield aion.random()
    return (yield aion.call(greet, f"{r:.6f}/{u}"))


@aion.workflow
def wait_signal() -> W:
    payload = yield aion.receive_signal("approved")
    return (yield aion.call(greet, str(payload)))


@aion.workflow
def send_to_child() -> W:
    handle = yield aion.start_child(signal_child)
    yield aion.send_signal(handle.workflow_id, "ping", 8)
    return (yield aion.await_child(handle))


@aion.workflow
def send_to_nobody() -> W:
    try:
        yield aion.send_signal("nobody-at-all", "ping", 1)
    except aion.SignalDeliveryError:
        return "undelivered"
    return "delivered"


@aion.workflow
def await_child_direct(x: int) -> W:
    return (yield aion.await_child(child_double, x * 2))


@aion.workflow
def fan_out_all(xs: list[int]) -> W:
    return (yield aion.collect_all([aion.call(double, x) for x in reversed(xs)]))


@aion.workflow
def race_call_and_timer() -> W:
    return (yield aion.collect_race([aion.sleep(6), aion.call(greet, "fast")]))


@aion.workflow
def map_with_concurrency(xs: list[int]) -> W:
    return (yield aion.collect_map(double, [(x,) for x in xs], concurrency=3))


@aion.workflow
def timeout_expires() -> W:
    try:
        return (yield aion.with_timeout(timedelta(minutes=6), aion.receive_signal("late")))
    except aion.Timeout:
        return (yield aion.call(greet, "timed out"))


@aion.workflow
def timeout_met() -> W:
    return (yield aion.with_timeout(timedelta(minutes=5), aion.receive_signal("later")))


@aion.workflow
def queryable(x: int) -> W:
    stage = "charging"
    yield aion.on_query("stage", lambda: stage)
    yield aion.call(greet, "audit")
    value = yield aion.call(double, x)
    stage = "done"
    return value


@aion.workflow
def countdown(n: int) -> W:
    yield aion.call(double, n)
    if n > 0:
        yield aion.continue_as_new(max(n - 2, 0))
    return "liftoff"


@aion.workflow
def patched_flow(x: int) -> W:
    if (yield aion.patched("biggest")):
        return (yield aion.call(double, x * 100))
    return (yield aion.call(double, x))


@aion.workflow
def fails_uncaught() -> W:
    return (yield aion.call(reject, "nope"))


@aion.workflow
def fails_caught() -> W:
    try:
        yield aion.call(reject, "no")
    except aion.ActivityError as exc:
        return (yield aion.call(greet, f"handled {exc.cause_type}"))
    return "unreachable"


@aion.workflow
def retries_then_succeeds() -> W:
    return (yield aion.call(flaky, "k2"))


@aion.workflow
def all_fail_fast() -> W:
    try:
        yield aion.collect_all([aion.sleep(61), aion.call(reject, "member")])
    except aion.ActivityError:
        return "failed fast"
    return "all done"


@aion.workflow
def nested_timeouts() -> W:
    inner = aion.with_timeout(timedelta(seconds=31), aion.receive_signal("x"))
    try:
        return (yield aion.with_timeout(timedelta(seconds=60), inner))
    except aion.Timeout as exc:
        return f"timeout {exc}"


@aion.workflow
def early_signal_buffered() -> W:
    yield aion.sleep(601)
    first = yield aion.receive_signal("item")
    second = yield aion.receive_signal("item")
    return [first, second]


@aion.workflow
def child_fails() -> W:
    try:
        yield aion.await_child("fails_caught")
    except aion.ChildWorkflowError as exc:
        return f"child {exc.status}"
    return "child ok"


@aion.workflow
def saga(x: int) -> W:
    done = []
    try:
        done.append((yield aion.call(double, x)))
        done.append((yield aion.call(reject, "step two")))
    except aion.ActivityError:
        for value in reversed(done):
            yield aion.call(greet, f"revert {value}")
        return "compensated"
    return "committed"


@aion.workflow
def kitchen_sink(x: int) -> W:
    parts = yield aion.collect_all(
        [
            aion.call(double, x),
            aion.with_timeout(timedelta(seconds=30), aion.receive_signal("go")),
            aion.sleep(10),
        ]
    )
    winner = yield aion.collect_race([aion.await_child(child_double, x), aion.sleep(3600)])
    mapped = yield aion.collect_map(double, [(1,), (2,), (3,)], concurrency=2)
    return [parts, winner, mapped]
