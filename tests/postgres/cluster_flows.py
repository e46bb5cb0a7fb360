"""Workflows the multi-worker tests run: activities, timers, signals, children, continue-as-new.

``order(wid, n, rounds)`` doubles its running total by an activity and sleeps
once per run, continues as new ``rounds - 1`` times, then waits for a
``bonus`` signal from another process, awaits a child that doubles the bonus
and signals ``thanks`` back to its parent (worker-to-worker once the two have
different owners), and returns a number `expected` computes without running.
``sleeper``, ``listener`` and ``busy`` serve the idle-release tests.
"""

from __future__ import annotations

import os
import time

import aion


@aion.activity
def double(x: int) -> int:
    return 2 * x


@aion.workflow
def kid(parent: str, bonus: int):  # type: ignore[no-untyped-def]
    doubled = yield aion.call(double, bonus)
    yield aion.send_signal(parent, "thanks", 1)
    return doubled


@aion.workflow
def order(wid: str, n: int, rounds: int, total: int = 0, nap: float = 0.05):  # type: ignore[no-untyped-def]
    total = yield aion.call(double, n + total)
    yield aion.sleep(nap)
    if rounds > 1:
        yield aion.continue_as_new(wid, n, rounds - 1, total, nap)
    bonus = yield aion.receive_signal("bonus")
    child = yield aion.await_child(kid, wid, bonus, workflow_id=f"{wid}/kid")
    thanks = yield aion.receive_signal("thanks")
    return total + child + thanks


def expected(n: int, rounds: int, bonus: int) -> int:
    """What ``order(.., n, rounds)`` returns given ``bonus``, computed without running it."""
    total = 0
    for _ in range(rounds):
        total = 2 * (n + total)
    return total + 2 * bonus + 1


@aion.activity
def until_file(path: str) -> str:
    """Runs until ``path`` exists (the test decides when an activity is in flight)."""
    while not os.path.exists(path):
        time.sleep(0.02)
    return "done"


@aion.workflow
def sleeper(seconds: float):  # type: ignore[no-untyped-def]
    """Sleeps once: idle, and releasable, until its timer is near."""
    yield aion.sleep(seconds)
    return "rested"


@aion.workflow
def listener():  # type: ignore[no-untyped-def]
    """Waits for one ``wake`` signal, with no timer: only a message brings it back."""
    got = yield aion.receive_signal("wake")
    return {"woken_by": got}


@aion.workflow
def busy(path: str):  # type: ignore[no-untyped-def]
    """Its activity stays in flight until ``path`` exists."""
    return (yield aion.call(until_file, path))


WORKFLOWS = [order, kid, sleeper, listener, busy]
ACTIVITIES = [double, until_file]
