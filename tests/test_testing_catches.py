"""Must-show: assert_deterministic catches the classic nondeterminism bugs, and passes their fixes.

The workflows live at module level so the kit can replay their histories in
fresh interpreters under other hash seeds (how set-order bugs are caught).
Nothing here depends on timing: the thread case is caught by the step audit
when the thread is started, whatever the thread then does.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Generator
from typing import Any

import pytest

import aion
from aion.testing import NotDeterministicError, allow_nondeterminism, assert_deterministic

NAMES = {"ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal"}


@aion.activity
def greet(name: str) -> str:
    return f"hello {name}"


@aion.activity
def prefetch() -> dict[str, bool]:
    return {"fast": True}


# --- broken -------------------------------------------------------------------------


@aion.workflow
def reads_wall_clock() -> Generator[Any, Any, str]:
    deadline = time.time() + 3600
    return (yield aion.call(greet, f"until {deadline}"))


@aion.workflow
def uses_random_module() -> Generator[Any, Any, str]:
    if random.random() < 0.5:
        return (yield aion.call(greet, "heads"))
    return (yield aion.call(greet, "tails"))


@aion.workflow
def iterates_a_set() -> Generator[Any, Any, list[str]]:
    out = []
    for name in NAMES:
        out.append((yield aion.call(greet, name)))
    return out


def _fill(box: dict[str, bool]) -> None:
    box["fast"] = True


@aion.workflow
def branches_on_thread_dict() -> Generator[Any, Any, str]:
    box: dict[str, bool] = {}
    threading.Thread(target=_fill, args=(box,)).start()
    yield aion.call(greet, "first")
    if box.get("fast"):
        return (yield aion.call(greet, "fast path"))
    return (yield aion.call(greet, "slow path"))


# --- fixed --------------------------------------------------------------------------


@aion.workflow
def reads_workflow_clock() -> Generator[Any, Any, str]:
    now = yield aion.now()
    return (yield aion.call(greet, f"until {now.timestamp() + 3600}"))


@aion.workflow
def uses_aion_random() -> Generator[Any, Any, str]:
    if (yield aion.random()) < 0.5:
        return (yield aion.call(greet, "heads"))
    return (yield aion.call(greet, "tails"))


@aion.workflow
def iterates_a_sorted_set() -> Generator[Any, Any, list[str]]:
    out = []
    for name in sorted(NAMES):
        out.append((yield aion.call(greet, name)))
    return out


@aion.workflow
def branches_on_activity_result() -> Generator[Any, Any, str]:
    box = yield aion.call(prefetch)
    yield aion.call(greet, "first")
    if box.get("fast"):
        return (yield aion.call(greet, "fast path"))
    return (yield aion.call(greet, "slow path"))


ACTIVITIES = [greet, prefetch]
BROKEN_AND_FIXED = [
    pytest.param(
        reads_wall_clock,
        reads_workflow_clock,
        "read the wall clock (time.time()) at tests/test_testing_catches.py:40",
        id="time.time",
    ),
    pytest.param(
        uses_random_module,
        uses_aion_random,
        "drew from the random module (random.random()) at tests/test_testing_catches.py:46",
        id="random.random",
    ),
    pytest.param(iterates_a_set, iterates_a_sorted_set, "PYTHONHASHSEED", id="set-order"),
    pytest.param(
        branches_on_thread_dict,
        branches_on_activity_result,
        "started a thread (threading.Thread.start()) at tests/test_testing_catches.py:66",
        id="thread-dict",
    ),
]


def _hash_seeds(says: str) -> int | None:
    """The default replays under 10 fresh hash seeds for the set case; none for the rest.

    Each call draws its own 10 interpreters (about 1.5 s of CPU); the step audit
    and in-process replays catch the other cases before they would run.
    """
    return None if "PYTHONHASHSEED" in says else 0


@pytest.mark.parametrize(("broken", "fixed", "says"), BROKEN_AND_FIXED)
def test_catches_the_broken_workflow(broken: Any, fixed: Any, says: str) -> None:
    with pytest.raises(NotDeterministicError) as caught:
        assert_deterministic(
            broken, activities=ACTIVITIES, max_examples=10, hash_seeds=_hash_seeds(says)
        )
    report = str(caught.value)
    assert says in report
    assert "Seed: " in report


@pytest.mark.parametrize(("broken", "fixed", "says"), BROKEN_AND_FIXED)
def test_passes_the_fixed_workflow(broken: Any, fixed: Any, says: str) -> None:
    assert_deterministic(
        fixed, activities=ACTIVITIES, max_examples=10, hash_seeds=_hash_seeds(says)
    )


def test_report_shows_schedule_seed_and_divergence() -> None:
    """A deliberate clock read passes the audit; its replay, clock skewed, still diverges."""
    with pytest.raises(NotDeterministicError) as caught:
        assert_deterministic(
            allowed_wall_clock, activities=ACTIVITIES, max_examples=5, hash_seeds=0, seed=7
        )
    report = caught.value.report
    assert "Schedule (the actions taken, in order):" in report
    assert "diverged from its history at seq 2" in report
    assert "history recorded ActivityScheduled #1 'greet'" in report
    assert "Seed: 7 (reproduce with assert_deterministic(..., seed=7))" in report
    assert caught.value.divergence is not None
    assert caught.value.schedule is not None


@aion.workflow
def allowed_wall_clock() -> Generator[Any, Any, str]:
    with allow_nondeterminism("the test wants the replay to see a skewed clock"):
        deadline = time.time() + 3600
    return (yield aion.call(greet, f"until {deadline:.0f}"))


@aion.workflow
def allowed_and_harmless() -> Generator[Any, Any, str]:
    with allow_nondeterminism("only logged, never decides anything"):
        time.time()
    return (yield aion.call(greet, "x"))


def test_allow_nondeterminism_exempts_a_deliberate_use() -> None:
    assert_deterministic(allowed_and_harmless, activities=ACTIVITIES, max_examples=3, hash_seeds=0)


def test_the_same_seed_reproduces_the_same_report() -> None:
    reports = []
    for _ in range(2):
        with pytest.raises(NotDeterministicError) as caught:
            assert_deterministic(
                allowed_wall_clock, activities=ACTIVITIES, max_examples=5, hash_seeds=0, seed=99
            )
        reports.append(caught.value.report.split("diverged")[0])
    assert reports[0] == reports[1]


def test_a_set_order_failure_names_schedule_seed_hash_seed_and_divergence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    from aion.testing import _hashseeds

    with pytest.raises(NotDeterministicError) as caught:
        assert_deterministic(iterates_a_set, activities=ACTIVITIES, max_examples=3, seed=11)
    failure = caught.value
    assert type(failure) is NotDeterministicError
    assert failure.schedule is not None
    assert isinstance(failure.divergence, aion.NondeterminismError)
    assert "Schedule (the actions taken, in order):" in failure.report
    assert "Seed: 11 (reproduce with assert_deterministic(..., seed=11))" in failure.report
    drawn = _hashseeds.draw(11, _hashseeds.DEFAULT_COUNT)
    assert (
        f"PYTHONHASHSEED={','.join(map(str, drawn))}".replace(",", ", ") in capsys.readouterr().err
    )
    found = re.search(r"reproduce with hash_seeds=\[(\d+)\]", failure.report)
    assert found is not None and int(found.group(1)) in drawn
    with pytest.raises(NotDeterministicError):  # that one hash seed alone reproduces it
        assert_deterministic(
            iterates_a_set,
            activities=ACTIVITIES,
            max_examples=3,
            seed=11,
            hash_seeds=[int(found.group(1))],
        )
