"""Sample workflows whose recorded runs are the replay fixtures (``replay_fixtures/``).

Each `Sample` names a workflow, its input and the signals scripted for its
run; ``python -m tests.fixture_gen`` runs every sample in an
`aion.testing.WorkflowEnvironment` and writes the history with its expected
outcome. `tests.fixture_workflows_v2` registers changed code under the same
names: replaying a good history against it must be reported (the bad twins).
Editing a workflow here changes what its fixture must replay: regenerate.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import attrs

import aion

W = Generator[Any, Any, Any]
ONCE = aion.RetryPolicy(max_attempts=1)
TWICE = aion.RetryPolicy(max_attempts=2, initial_interval=timedelta(seconds=10))


# --- activities (deterministic, so regeneration gives the same histories) ---------


@aion.activity
def double(x: int) -> int:
    return 2 * x


@aion.activity
def greet(name: str) -> str:
    return f"hello {name}"


@aion.activity(retry=ONCE)
def reject(reason: str) -> str:
    raise ValueError(reason)


_flaky_calls: dict[str, int] = {}


@aion.activity(retry=TWICE)
def flaky(key: str) -> str:
    """Fails its first attempt for each key, then succeeds."""
    _flaky_calls[key] = _flaky_calls.get(key, 0) + 1
    if _flaky_calls[key] == 1:
        msg = f"first attempt for {key} fails"
        raise ConnectionError(msg)
    return f"ok {key}"


# --- one command kind each --------------------------------------------------------


@aion.workflow
def call_one(x: int) -> W:
    return (yield aion.call(double, x))


@aion.workflow
def sleep_then_call(x: int) -> W:
    yield aion.sleep(timedelta(hours=1))
    return (yield aion.call(double, x))


@aion.workflow
def now_and_later() -> W:
    start = yield aion.now()
    yield aion.sleep(90)
    end = yield aion.now()
    return (end - start).total_seconds()


@aion.workflow
def random_and_uuid() -> W:
    r = yield aion.random()
    u = yield aion.uuid4()
    return (yield aion.call(greet, f"{r:.6f}/{u}"))


@aion.workflow
def wait_signal() -> W:
    payload = yield aion.receive_signal("approve")
    return (yield aion.call(greet, str(payload)))


@aion.workflow
def signal_child() -> W:
    value = yield aion.receive_signal("ping")
    return f"child got {value}"


@aion.workflow
def send_to_child() -> W:
    handle = yield aion.start_child(signal_child)
    yield aion.send_signal(handle.workflow_id, "ping", 7)
    return (yield aion.await_child(handle))


@aion.workflow
def send_to_nobody() -> W:
    try:
        yield aion.send_signal("no-such-workflow", "ping", 1)
    except aion.SignalDeliveryError:
        return "undelivered"
    return "delivered"


@aion.workflow
def child_double(x: int) -> W:
    return (yield aion.call(double, x))


@aion.workflow
def await_child_direct(x: int) -> W:
    return (yield aion.await_child(child_double, x))


@aion.workflow
def fan_out_all(xs: list[int]) -> W:
    return (yield aion.collect_all([aion.call(double, x) for x in xs]))


@aion.workflow
def race_call_and_timer() -> W:
    return (yield aion.collect_race([aion.sleep(5), aion.call(greet, "fast")]))


@aion.workflow
def map_with_concurrency(xs: list[int]) -> W:
    return (yield aion.collect_map(double, [(x,) for x in xs], concurrency=2))


@aion.workflow
def timeout_expires() -> W:
    try:
        return (yield aion.with_timeout(timedelta(minutes=5), aion.receive_signal("late")))
    except aion.Timeout:
        return (yield aion.call(greet, "timed out"))


@aion.workflow
def timeout_met() -> W:
    return (yield aion.with_timeout(timedelta(minutes=5), aion.receive_signal("soon")))


@aion.workflow
def queryable(x: int) -> W:
    stage = "charging"
    yield aion.on_query("stage", lambda: stage)
    value = yield aion.call(double, x)
    stage = "done"
    return value


@aion.workflow
def countdown(n: int) -> W:
    yield aion.call(double, n)
    if n > 0:
        yield aion.continue_as_new(n - 1)
    return "liftoff"


@aion.workflow
def patched_flow(x: int) -> W:
    if (yield aion.patched("bigger")):
        return (yield aion.call(double, x * 10))
    return (yield aion.call(double, x))


# --- failures and compositions ----------------------------------------------------


@aion.workflow
def fails_uncaught() -> W:
    return (yield aion.call(reject, "no"))


@aion.workflow
def fails_caught() -> W:
    try:
        yield aion.call(reject, "no")
    except aion.ActivityError as exc:
        return (yield aion.call(greet, f"recovered from {exc.cause_type}"))
    return "unreachable"


@aion.workflow
def retries_then_succeeds() -> W:
    return (yield aion.call(flaky, "k1"))


@aion.workflow
def all_fail_fast() -> W:
    try:
        yield aion.collect_all([aion.sleep(60), aion.call(reject, "member")])
    except aion.ActivityError:
        return "failed fast"
    return "all done"


@aion.workflow
def nested_timeouts() -> W:
    inner = aion.with_timeout(timedelta(seconds=30), aion.receive_signal("x"))
    try:
        return (yield aion.with_timeout(timedelta(seconds=60), inner))
    except aion.Timeout as exc:
        return f"timeout {exc}"


@aion.workflow
def early_signal_buffered() -> W:
    yield aion.sleep(600)
    first = yield aion.receive_signal("item")
    second = yield aion.receive_signal("item")
    return [first, second]


@aion.workflow
def child_fails() -> W:
    try:
        yield aion.await_child(fails_uncaught)
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
            yield aion.call(greet, f"undo {value}")
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
    mapped = yield aion.collect_map(double, [(1,), (2,), (3,)], concurrency=1)
    return [parts, winner, mapped]


@attrs.frozen
class Sample:
    """One recorded run: a fixture case and the input that produced it."""

    case: str
    workflow: Any
    args: tuple[Any, ...] = ()
    signals: tuple[tuple[float, str, Any], ...] = ()


SAMPLES: tuple[Sample, ...] = (
    Sample("call_one", call_one, (21,)),
    Sample("sleep_then_call", sleep_then_call, (4,)),
    Sample("now_and_later", now_and_later),
    Sample("random_and_uuid", random_and_uuid),
    Sample("wait_signal", wait_signal, (), ((30, "approve", "yes"),)),
    Sample("send_to_child", send_to_child),
    Sample("send_to_nobody", send_to_nobody),
    Sample("await_child_direct", await_child_direct, (5,)),
    Sample("fan_out_all", fan_out_all, ([1, 2, 3],)),
    Sample("race_call_and_timer", race_call_and_timer),
    Sample("map_with_concurrency", map_with_concurrency, ([1, 2, 3, 4],)),
    Sample("timeout_expires", timeout_expires),
    Sample("timeout_met", timeout_met, (), ((60, "soon", "on time"),)),
    Sample("queryable", queryable, (3,)),
    Sample("countdown", countdown, (2,)),
    Sample("patched_flow", patched_flow, (2,)),
    Sample("fails_uncaught", fails_uncaught),
    Sample("fails_caught", fails_caught),
    Sample("retries_then_succeeds", retries_then_succeeds),
    Sample("all_fail_fast", all_fail_fast),
    Sample("nested_timeouts", nested_timeouts),
    Sample(
        "early_signal_buffered", early_signal_buffered, (), ((1, "item", "a"), (2, "item", "b"))
    ),
    Sample("child_fails", child_fails),
    Sample("saga", saga, (4,)),
    Sample("kitchen_sink", kitchen_sink, (6,), ((5, "go", True),)),
)
