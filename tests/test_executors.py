"""The activity executor seam is public (issue 11 #9, issue 14 #5).

`aion.ActivityExecutor` is the protocol; a custom executor may report a
failed attempt as a plain exception (it used to break ``result()`` with an
``AttributeError``). `aion.FuturesExecutor` runs attempts on a
``concurrent.futures`` executor: here a real ``ProcessPoolExecutor`` with
spawned processes, the default for CPU-bound activities.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import aion
from tests import executor_activities as acts


class InlineExecutor:
    """A duck-typed executor as a user writes one: runs inline, reports exceptions as-is."""

    waits = True

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(
        self,
        definition: aion.ActivityDefinition,
        args: list[Any],
        kwargs: dict[str, Any],
        info: aion.ActivityInfo,
        done: Any,
    ) -> None:
        self.submitted.append(definition.name)
        try:
            done((True, definition.fn(*args, **kwargs)))
        except Exception as exc:
            done((False, exc))  # a plain exception, not an aion ErrorInfo

    def shutdown(self) -> None:
        pass


@aion.activity(retry=aion.RetryPolicy(max_attempts=1))
def explode(n: int) -> int:
    raise KeyError(f"no item {n}")


@aion.activity
def plus_one(n: int) -> int:
    return n + 1


@aion.workflow
def uses_both(n: int) -> Any:
    value = yield aion.call(plus_one, n)
    try:
        yield aion.call(explode, value)
    except aion.ActivityError as err:
        return {"value": value, "cause": err.cause_type, "message": err.message}
    return None


@aion.workflow
def only_explodes(n: int) -> Any:
    value = yield aion.call(explode, n)
    return value


def test_a_custom_executor_may_report_plain_exceptions(tmp_path: Path) -> None:
    executor = InlineExecutor()
    assert isinstance(executor, aion.ActivityExecutor)  # the protocol is public and checkable
    with aion.Engine(
        str(tmp_path / "x.duckdb"),
        workflows=[uses_both, only_explodes],
        activities=[plus_one, explode],
        executor=executor,
    ) as engine:
        assert engine.start(uses_both, 1).result(timeout=30) == {
            "value": 2,
            "cause": "KeyError",
            "message": "'no item 2'",
        }
        with pytest.raises(aion.WorkflowFailedError) as caught:
            engine.start(only_explodes, 7).result(timeout=30)
        assert caught.value.error_type == "aion.ActivityError"
        assert "KeyError" in caught.value.error_message
    assert executor.submitted == ["plus_one", "explode", "explode"]


@pytest.fixture(scope="module")
def process_pool() -> Any:
    with ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        yield pool


def test_futures_executor_runs_cpu_bound_activities_in_other_processes(
    tmp_path: Path, process_pool: ProcessPoolExecutor
) -> None:
    with aion.Engine(
        str(tmp_path / "p.duckdb"),
        workflows=[acts.crunch],
        activities=[acts.count_primes, acts.always_fails, acts.async_double],
        executor=aion.FuturesExecutor(process_pool),
    ) as engine:
        handle = engine.start(acts.crunch, [2000, 3000, 5000], workflow_id="crunch-1")
        result = handle.result(timeout=120)
        run_id = engine.describe("crunch-1").run_id
    assert [f["primes"] for f in result["found"]] == [303, 430, 669]
    assert all(f["pid"] != os.getpid() for f in result["found"])
    assert [f["key"] for f in result["found"]] == [f"crunch-1:{run_id}:{o}" for o in (2, 3, 4)]
    assert result["doubled"] == 606
    assert result["failure"]["type"] == "ValueError"
    assert result["failure"]["attempts"] == 2
    assert str(os.getpid()) not in result["failure"]["message"]
    # The pool passed in is still the caller's after the engine closed.
    assert process_pool.submit(abs, -3).result(timeout=60) == 3


def test_futures_executor_names_an_activity_that_cannot_reach_a_worker(
    tmp_path: Path, process_pool: ProcessPoolExecutor
) -> None:
    def local(n: int) -> int:  # defined inside a function: no import path
        return n

    nested = aion.activity(name="local", retry=aion.RetryPolicy(max_attempts=5))(local)

    @aion.workflow(name="calls_local")
    def calls_local() -> Any:
        value = yield aion.call(nested, 1)
        return value

    with aion.Engine(
        str(tmp_path / "n.duckdb"),
        workflows=[calls_local],
        activities=[nested],
        executor=aion.FuturesExecutor(process_pool),
    ) as engine:
        with pytest.raises(aion.WorkflowFailedError) as caught:
            engine.start(calls_local).result(timeout=60)
        assert caught.value.error_type == "aion.ActivityError"
        message = caught.value.error_message
        assert "aion.NotPicklableError" in message
        assert "activity 'local' cannot be sent to a worker process" in message
        assert "Define it at module level" in message
        # Not retried: the same function cannot travel on the next attempt either.
        failed = [e for e in engine.history(engine.list()[0].workflow_id) if "attempt" in dir(e)]
        assert [e.attempt for e in failed] == [1]


def test_futures_executor_takes_any_concurrent_futures_executor(tmp_path: Path) -> None:
    """The same adapter takes a thread pool, or Dask's ``Client.get_executor()``."""
    ran_on: list[str] = []

    @aion.activity(name="where")
    def where(n: int) -> int:
        ran_on.append(threading.current_thread().name)
        return n * 10

    @aion.workflow(name="asks_where")
    def asks_where(n: int) -> Any:
        value = yield aion.call(where, n)
        return value

    with (
        ThreadPoolExecutor(1, thread_name_prefix="users-pool") as pool,
        aion.Engine(
            str(tmp_path / "t.duckdb"),
            workflows=[asks_where],
            activities=[where],
            executor=aion.FuturesExecutor(pool),
        ) as engine,
    ):
        assert engine.start(asks_where, 4).result(timeout=30) == 40
    assert ran_on == ["users-pool_0"]
