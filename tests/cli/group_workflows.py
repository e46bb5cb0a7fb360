"""Workflows whose ``collect_*`` groups settle long before the run ends (timeline tests)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aion
from tests.cli.sample_workflows import double


@aion.workflow
def gather_then_wait() -> Any:
    """collect_all settles at +1s (its timer); the run goes on to +31s."""
    values = yield aion.collect_all([aion.call(double, 1), aion.sleep(timedelta(seconds=1))])
    yield aion.sleep(timedelta(seconds=30))
    return values[0]


@aion.workflow
def mapped_then_signal() -> Any:
    """collect_map completes at +2s; then the run waits for a signal (still pending)."""
    results = yield aion.collect_map(double, [1, 2, 3], concurrency=1)
    yield aion.sleep(timedelta(seconds=2))
    go = yield aion.receive_signal("go")
    return [results, go]


@aion.workflow
def fan() -> Any:
    """Two calls at once (group_workflows_v2 makes it three: a divergence)."""
    values = yield aion.collect_all([aion.call(double, 1), aion.call(double, 2)])
    return values


@aion.workflow
def child_double(n: int) -> Any:
    """A child: its start is recorded by the parent's code, which names no code for it."""
    value = yield aion.call(double, n)
    return value


@aion.workflow
def parent_of_child(n: int) -> Any:
    value = yield aion.await_child(child_double, n, workflow_id="child-of-p")
    return value
