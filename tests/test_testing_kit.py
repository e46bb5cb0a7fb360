"""The kit never cries wolf, raises one error type, and reaches cancel and exhausted-retry paths."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import aion
from aion.testing import NotDeterministicError, assert_deterministic
from cli.main import cli

W = Generator[Any, Any, Any]


@aion.activity
def read_clock() -> float:
    return time.time()  # a real activity reading the clock, as the README advises


@aion.activity
def ticket() -> int:
    raise NotImplementedError  # mocked below with a stateful function


@aion.workflow
def uses_impure_activity() -> W:
    first = yield aion.call(read_clock)
    second = yield aion.call(read_clock)
    return [first, second]  # the outcome holds what the activity read


@aion.workflow
def uses_stateful_mock() -> W:
    a = yield aion.call(ticket)
    b = yield aion.call(ticket)
    return [a, b]


@pytest.mark.parametrize("store", ["memory", "duckdb"])
def test_an_impure_real_activity_is_not_a_false_positive(store: str) -> None:
    assert_deterministic(
        uses_impure_activity, activities=[read_clock], seed=5, hash_seeds=0, store=store
    )


@pytest.mark.parametrize("store", ["memory", "duckdb"])
def test_a_stateful_mock_is_not_a_false_positive(store: str) -> None:
    counter = itertools.count()
    assert_deterministic(
        uses_stateful_mock, mocks={ticket: lambda: next(counter)}, seed=5, hash_seeds=0, store=store
    )


@aion.activity
def flaky_call(n: int) -> int:
    return n


@aion.workflow
def branches_on_handlers() -> W:
    try:
        return (yield aion.call(flaky_call, 1))
    except aion.ActivityError:
        return (yield aion.call(flaky_call, int(time.time()) % 2))  # bug only on this path


def test_exhausted_retries_reach_the_activity_error_handler() -> None:
    with pytest.raises(NotDeterministicError) as caught:
        assert_deterministic(branches_on_handlers, activities=[flaky_call], seed=1, hash_seeds=0)
    assert "read the wall clock (time.time())" in str(caught.value)
    assert "exhaust wf #1 attempt 1" in str(caught.value)


@aion.workflow
def cancel_handler_bug() -> W:
    try:
        yield aion.sleep(60)
    except aion.Cancelled:
        yield aion.call(flaky_call, int(time.monotonic()))  # bug only on this path
        raise
    return "slept"


def test_the_cancel_action_reaches_the_cancelled_handler() -> None:
    with pytest.raises(NotDeterministicError) as caught:
        assert_deterministic(cancel_handler_bug, activities=[flaky_call], seed=1, hash_seeds=0)
    assert "read the monotonic clock" in str(caught.value)
    assert "cancel the workflow" in str(caught.value)
    assert_deterministic(
        cancel_handler_bug, activities=[flaky_call], seed=1, hash_seeds=0, cancel=False
    )


@aion.workflow
def two_bugs() -> W:
    yield aion.call(flaky_call, int(time.time()))
    try:
        yield aion.call(flaky_call, 2)
    except Exception:
        return "swallowed"
    return "ok"


def test_several_failures_still_raise_one_not_deterministic_error() -> None:
    for seed in range(5):
        with pytest.raises(NotDeterministicError) as caught:
            assert_deterministic(two_bugs, activities=[flaky_call], seed=seed, hash_seeds=0)
        assert type(caught.value) is NotDeterministicError
        assert f"seed={seed}" in str(caught.value)


def test_a_closure_warns_loudly_that_hash_orders_are_not_checked() -> None:
    @aion.workflow
    def local() -> W:
        return (yield aion.call(flaky_call, 1))

    with pytest.warns(UserWarning, match="NOT replayed under other PYTHONHASHSEEDs"):
        assert_deterministic(local, activities=[flaky_call], max_examples=2, hash_seeds=2)


LINTED = """
import os, time, random
import aion

NAMES = {"a", "b"}

def helper():
    return os.environ["X"]

@aion.workflow
def flow():
    for n in NAMES:
        yield aion.call("greet", n)
    xs = sorted([1, 2], key=id)
    t = time.time()
    v = helper()
    try:
        yield aion.sleep(1)
    except Exception:
        pass
    with aion.testing.allow_nondeterminism("ok"):
        random.random()

def not_a_workflow():
    return time.time()
"""


def test_lint_flags_each_rule_in_workflows_and_their_helpers(tmp_path: Path) -> None:
    from aion.testing._lint import lint_source

    codes = [(f.line, f.code) for f in lint_source(LINTED, "flows.py")]
    assert codes == [
        (8, "AION103"),
        (12, "AION101"),
        (14, "AION102"),
        (15, "AION103"),
        (19, "AION104"),
    ]


def test_aion_lint_cli_exit_codes_and_json(tmp_path: Path) -> None:
    bad = tmp_path / "flows.py"
    bad.write_text(LINTED)
    good = tmp_path / "good.py"
    good.write_text("import aion\n\n@aion.workflow\ndef f():\n    yield aion.sleep(1)\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["lint", str(bad)])
    assert result.exit_code == 1
    assert "AION101" in result.output and "iterates a set" in result.output
    result = runner.invoke(cli, ["lint", "--json", str(bad)])
    assert result.exit_code == 1
    assert '"code": "AION104"' in result.output
    assert runner.invoke(cli, ["lint", str(good)]).exit_code == 0
    missing = runner.invoke(cli, ["lint", str(tmp_path / "nope.py")])
    assert missing.exit_code == 2
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "lint", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "flows.py:12:5: AION101" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_pytest_hook_is_opt_in(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(LINTED)
    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naion_lint = flows.py\n")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stdout
    assert "aion lint found nondeterminism" in proc.stdout
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout


@aion.activity
def charge(order_id: str, cents: int, note: str = "") -> str:
    return f"{order_id}:{cents}{note}"


@aion.workflow(name="pay")
def pay_by_keyword() -> W:
    return (yield aion.call(charge, "o-1", cents=5))


@aion.workflow(name="pay")
def pay_by_position() -> W:
    return (yield aion.call(charge, "o-1", 5))


@aion.workflow(name="pay")
def pay_other_amount() -> W:
    return (yield aion.call(charge, "o-1", cents=6))


@aion.workflow(name="pay")
def pay_with_explicit_default() -> W:
    return (yield aion.call(charge, "o-1", 5, note=""))


def _history(workflow: Any) -> list[Any]:
    from aion.testing import WorkflowEnvironment

    with WorkflowEnvironment(activities=[charge]) as env:
        run = env.run(workflow)
        assert run.status == "completed"
        return list(run.history)


@pytest.mark.parametrize(
    ("recorded", "now", "diverges"),
    [
        (pay_by_keyword, pay_by_position, False),
        (pay_by_position, pay_by_keyword, False),
        (pay_by_keyword, pay_other_amount, True),
        (pay_by_position, pay_with_explicit_default, True),
    ],
)
def test_a_call_passed_by_keyword_instead_of_position_is_not_a_divergence(
    recorded: Any, now: Any, diverges: bool
) -> None:
    """An old history (recorded with one spelling) still matches code using the other."""
    from aion._definitions import Registry
    from aion._replay import replay

    history = _history(recorded)
    result = replay("pay", history, registry=Registry([now], [charge]), workflow_id="wf")
    assert (result.divergence is not None) is diverges
    if not diverges:
        assert result.ok
        assert result.interpreter is not None and not result.interpreter.new_decisions


def test_each_call_draws_its_own_hash_seeds_from_its_seed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aion.testing import _hashseeds

    assert _hashseeds.draw(1, 12) == _hashseeds.draw(1, 12)
    assert set(_hashseeds.draw(1, 12)).isdisjoint(_hashseeds.draw(2, 12))
    assert len(set(_hashseeds.draw(3, 12))) == 12
    assert all(1 <= s <= 4_294_967_295 for s in _hashseeds.draw(4, 100))
    for seed in (1, 2):
        assert_deterministic(
            uses_impure_activity, activities=[read_clock], max_examples=2, seed=seed, hash_seeds=2
        )
        printed = capsys.readouterr().err
        a, b = _hashseeds.draw(seed, 2)
        assert f"PYTHONHASHSEED={a}, {b} (seed={seed})" in printed
        assert {a, b} <= set(_hashseeds.POOL.seeds())


def _settle_in_background(auditor: Any) -> Any:
    import threading

    helper = threading.Thread(target=auditor.settle, kwargs={"timeout": 3600}, daemon=True)
    helper.start()
    helper.join(30)  # a bound for a stalled machine, not a speed check: it returns at once
    return helper


def test_settle_never_waits_on_a_parked_thread_or_an_idle_pool_worker() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from aion.testing._audit import Auditor

    release = threading.Event()
    auditor = Auditor()
    parked = threading.Thread(target=release.wait, daemon=True)
    parked.start()
    auditor.threads.append(parked)
    pool = ThreadPoolExecutor(max_workers=2)
    auditor.futures.append(pool.submit(release.wait))
    auditor.executors.append(pool)
    helper = _settle_in_background(auditor)
    waited = helper.is_alive()
    release.set()
    pool.shutdown()
    assert not waited


def test_settle_waits_for_work_still_running() -> None:
    import threading

    from aion.testing._audit import Auditor

    box: list[int] = []

    def work() -> None:
        total = 0
        for i in range(300_000):  # busy, never parked
            total += i
        box.append(total)

    auditor = Auditor()
    worker = threading.Thread(target=work)
    worker.start()
    auditor.threads.append(worker)
    auditor.settle(timeout=3600)
    assert box == [sum(range(300_000))]


@aion.workflow
def unseeded_random_instance() -> W:
    rng = random.Random()
    return (yield aion.call(flaky_call, rng.randint(0, 1)))


@aion.workflow
def seeded_random_instance() -> W:
    rng = random.Random(42)
    return (yield aion.call(flaky_call, rng.randint(0, 1)))


def test_an_unseeded_random_instance_is_caught_and_a_seeded_one_is_not() -> None:
    with pytest.raises(NotDeterministicError) as caught:
        assert_deterministic(
            unseeded_random_instance, activities=[flaky_call], max_examples=2, hash_seeds=0
        )
    assert "made an unseeded random.Random (random.Random())" in str(caught.value)
    assert_deterministic(seeded_random_instance, activities=[flaky_call], hash_seeds=0)
