"""WorkflowEnvironment, the workflow_env fixture, and the exported strategies."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings

import aion
from aion.testing import (
    InjectedFailureError,
    Schedule,
    Step,
    WorkflowEnvironment,
    check_workflow,
    histories,
    schedules,
)


@aion.activity
def charge(order: str, cents: int) -> dict[str, Any]:
    msg = "the real charge must not run in these tests"
    raise AssertionError(msg)


@aion.activity(retry=aion.RetryPolicy(max_attempts=1))
def refund(receipt: str) -> str:
    return f"refunded {receipt}"


@aion.workflow
def order(order_id: str, cents: int) -> Generator[Any, Any, Any]:
    receipt = yield aion.call(charge, order_id, cents)
    try:
        ok = yield aion.with_timeout(timedelta(days=2), aion.receive_signal("approve"))
    except aion.Timeout:
        yield aion.call(refund, receipt["id"])
        return "expired"
    shipped = yield aion.call("ship", order_id)
    return {"receipt": receipt["id"], "approved": ok, "shipped": shipped}


def test_mocks_by_function_and_name_and_signal_at_virtual_time() -> None:
    with WorkflowEnvironment(
        activities=[refund], mocks={charge: {"id": "r-1"}, "ship": lambda oid: f"parcel {oid}"}
    ) as env:
        env.signal_at(timedelta(hours=5), "approve", True)
        run = env.run(order, "o-1", 1299)
        assert run.status == "completed"
        assert run.result == {"receipt": "r-1", "approved": True, "shipped": "parcel o-1"}
        assert [name for name, _ in run.calls] == ["charge", "ship"]
        assert env.clock.now() - run.history[0].recorded_at == timedelta(hours=5)


def test_time_skips_two_days_when_no_signal_comes() -> None:
    with WorkflowEnvironment(activities=[refund], mocks={charge: {"id": "r-2"}}) as env:
        run = env.run(order, "o-2", 5)
        assert run.result == "expired"
        assert env.clock.now() - run.history[0].recorded_at == timedelta(days=2)
        assert run.calls[-1] == ("refund", ["r-2"])


def test_mock_exception_fails_the_workflow_after_retries() -> None:
    with WorkflowEnvironment(mocks={charge: ValueError("card declined")}) as env:
        run = env.run(order, "o-3", 5)
        assert run.status == "failed"
        assert run.error_type is not None and "ActivityError" in run.error_type
        assert "card declined" in (run.error_message or "")
        assert len(run.calls) == 3  # the default policy: three attempts


def test_a_run_waiting_for_nothing_ends_running() -> None:
    @aion.workflow(name="waits")
    def waits() -> Generator[Any, Any, Any]:
        return (yield aion.receive_signal("never"))

    with WorkflowEnvironment() as env:
        run = env.run(waits)
        assert run.status == "running"
        assert any("never" in w for w in run.waiting)


def test_duckdb_store_on_request(tmp_path: Any) -> None:
    with WorkflowEnvironment(store="duckdb", mocks={charge: {"id": "r-4"}, "ship": "p"}) as env:
        env.signal_at(0, "approve", False)
        run = env.run(order, "o-4", 1)
        assert isinstance(env.engine.store.inner, aion.DuckDBStore)  # type: ignore[attr-defined]
        assert run.result["approved"] is False


def test_workflow_env_fixture_comes_from_the_plugin(workflow_env: WorkflowEnvironment) -> None:
    workflow_env.mock(charge, {"id": "r-5"})
    workflow_env.mock("ship", "parcel")
    workflow_env.signal_at(timedelta(minutes=1), "approve", True)
    assert workflow_env.run(order, "o-5", 1).result["shipped"] == "parcel"


def test_injected_failures_retry_with_durable_backoff() -> None:
    # Step(0, fail=True) fails the first attempt of charge; the retry fires a second later.
    result = check_workflow(
        order,
        "o-6",
        7,
        schedule=Schedule((Step(0, fail=True),)),
        activities=[refund],
        mocks={charge: {"id": "r-6"}, "ship": "p"},
        signals=[("approve", True)],
    )
    events = result.histories["wf"]
    failed = [e for e in events if type(e).__name__ == "ActivityFailed"]
    assert len(failed) == 1 and InjectedFailureError.__name__ in failed[0].error.type
    assert result.outcome[0] == "completed"


@settings(max_examples=10)
@given(
    history=histories(
        order,
        "o-7",
        3,
        activities=[refund],
        mocks={charge: {"id": "x"}, "ship": "p"},
        signals=[("approve", 1)],
    )
)
def test_histories_strategy_gives_replayable_histories(history: list[Any]) -> None:
    registry = aion.Replayer([order], [refund, charge]).registry
    assert aion.replay(order, history, registry=registry, workflow_id="wf").ok


@given(schedule=schedules(failures=False, cancel=False))
def test_schedules_without_failures_or_cancel_never_fail_or_cancel(schedule: Schedule) -> None:
    assert not any(step.fail or step.exhaust or step.cancel for step in schedule.steps)


@aion.activity(retry=aion.RetryPolicy(max_attempts=10))
def patient(n: int) -> int:
    return n


@aion.workflow
def handles_both() -> Generator[Any, Any, Any]:
    try:
        return (yield aion.call(patient, 1))
    except aion.ActivityError:
        return "exhausted"


#: Deterministic searches: the same examples on every run, no database.
FIND = settings(database=None, derandomize=True, max_examples=500)


def test_drawn_schedules_cancel_and_exhaust_by_default() -> None:
    from hypothesis import find

    from aion.events import WorkflowCancelled, WorkflowCompleted

    assert find(schedules(), lambda s: any(x.cancel for x in s.steps), settings=FIND)
    assert find(schedules(), lambda s: any(x.exhaust for x in s.steps), settings=FIND)
    drawn = histories(handles_both, activities=[patient])
    cancelled = find(drawn, lambda h: isinstance(h[-1], WorkflowCancelled), settings=FIND)
    assert isinstance(cancelled[-1], WorkflowCancelled)

    def exhausted(h: list[Any]) -> bool:  # ten attempts failed: only an exhaust step does that
        return isinstance(h[-1], WorkflowCompleted) and h[-1].result == "exhausted"

    assert exhausted(find(drawn, exhausted, settings=FIND))


def test_the_plain_schedule_is_empty() -> None:
    assert Schedule().at(3) == Step(0, False)


@pytest.mark.parametrize("store", ["memory", "duckdb"])
def test_assert_deterministic_passes_a_good_workflow(store: str) -> None:
    aion.testing.assert_deterministic(
        order,
        "o-8",
        9,
        activities=[refund],
        mocks={charge: {"id": "r-8"}, "ship": "p"},
        signals=[("approve", True)],
        max_examples=5,
        store=store,
        crash_points=None if store == "memory" else 2,
        hash_seeds=(),
    )
