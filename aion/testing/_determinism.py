"""`assert_deterministic`: prove a workflow deterministic under generated schedules.

Hypothesis draws schedules (completion order and timing of activities,
failures and retries, signal arrival relative to timers); each is run on a
real engine with virtual time, and properties (a) and (b) of
`aion.testing._check` are asserted, with a crash after every commit. Then a
sample of the histories is replayed in fresh interpreters with other hash
seeds, which catches code whose commands follow the order of a set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from aion import fixtures
from aion._definitions import activity_definition, workflow_definition
from aion._events import Event
from aion.testing._check import CheckResult, NotDeterministicError, check_schedule
from aion.testing._driver import Schedule, Setup, SignalSpec
from aion.testing._executor import normalize_mocks
from aion.testing._strategies import as_signal, schedules

#: How many produced histories are replayed under each other hash seed.
_ISOLATED_SAMPLE = 4


def _importable(fn: Callable[..., Any], attr: str) -> tuple[str, str] | None:
    module = getattr(fn, "__module__", None)
    definition = getattr(fn, attr, None)
    if module is None or module == "__main__" or definition is None:
        return None
    if "<locals>" in getattr(fn, "__qualname__", ""):
        return None
    mod = sys.modules.get(module)
    if mod is None or not any(v is fn for v in vars(mod).values()):
        return None
    return module, definition.name


def isolated_replay(
    setup: Setup, histories: Sequence[tuple[str, list[Event]]], hash_seed: int
) -> list[dict[str, Any]] | None:
    """Replay ``histories`` in a subprocess with ``PYTHONHASHSEED=hash_seed``.

    Returns the per-history results, or None when the workflows cannot be
    imported by module path (closures, ``__main__``) and the check is skipped.
    """
    wanted = []
    for w in setup.workflows:
        ref = _importable(w, "__aion_workflow__")
        if ref is None:
            return None
        wanted.append(ref)
    acts = [r for a in setup.activities if (r := _importable(a, "__aion_activity__")) is not None]
    request = {
        "workflows": wanted,
        "activities": acts,
        "histories": [fixtures.to_dict(wid, h) for wid, h in histories],
    }
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = str(hash_seed)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [sys.executable, "-m", "aion.testing._isolated"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        msg = f"the isolated replay (PYTHONHASHSEED={hash_seed}) crashed:\n{proc.stderr[-2000:]}"
        raise NotDeterministicError(msg)
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    return results


def _setup(
    workflow: Callable[..., Any],
    args: tuple[Any, ...],
    workflows: Iterable[Callable[..., Any]],
    activities: Iterable[Callable[..., Any]],
    mocks: Mapping[Any, Any] | None,
    signals: Sequence[SignalSpec | tuple[Any, ...]],
    failures: bool,
    store: str,
    workflow_id: str,
    start: datetime | None,
) -> Setup:
    workflow_definition(workflow)  # fail early, with the decorator's message
    for a in activities:
        activity_definition(a)
    extra: dict[str, Any] = {"start": start} if start is not None else {}
    return Setup(
        workflow,
        args,
        workflow_id=workflow_id,
        workflows=list(workflows),
        activities=list(activities),
        mocks=normalize_mocks(mocks),
        signals=tuple(as_signal(s) for s in signals),
        failures=failures,
        store=store,
        **extra,
    )


def assert_deterministic(
    workflow: Callable[..., Any],
    *args: Any,
    workflows: Iterable[Callable[..., Any]] = (),
    activities: Iterable[Callable[..., Any]] = (),
    mocks: Mapping[Any, Any] | None = None,
    signals: Sequence[SignalSpec | tuple[Any, ...]] = (),
    failures: bool = True,
    max_examples: int | None = None,
    crash_points: int | None = None,
    store: str = "memory",
    workflow_id: str = "wf",
    seed: int | None = None,
    hash_seeds: Sequence[int] = (1, 2),
    start: datetime | None = None,
) -> None:
    """Assert that ``workflow(*args)`` is deterministic under generated schedules.

    For every schedule hypothesis draws, the workflow runs on a real engine
    with virtual time, then:

    (a) every history it produced (its own, its children's) replays with no
        divergence, no extra command and the same outcome;
    (b) for a crash after each commit, a fresh engine recovering the durable
        prefix ends with the same outcome and the same decisions.

    Finally a few histories are replayed in fresh interpreters under other
    hash seeds (``hash_seeds``), which catches commands ordered by a set.

    Args:
        workflow: The ``@aion.workflow`` function under test.
        *args: Its input.
        workflows: Other workflows it starts as children.
        activities: Activities to run for real (those not in ``mocks``).
        mocks: Activity (function or registered name) -> a value to return,
            an exception to raise, or a function to call with the arguments.
        signals: Signals to deliver, as `Signal` objects or ``(name, payload)``
            tuples; the schedule decides when each arrives (in list order).
        failures: Let schedules fail activity attempts (retries, then
            `aion.ActivityError` in the workflow).
        max_examples: Schedules to try (default: the hypothesis profile's).
        crash_points: Crash points per schedule, drawn by hypothesis (None:
            after every commit).
        store: ``"memory"``, or ``"duckdb"`` for temporary DuckDB files with
            real engine restarts.
        workflow_id: The id the workflow runs under.
        seed: Hypothesis seed, for reproducing a failure it printed.
        hash_seeds: ``PYTHONHASHSEED`` values for the isolated replays (empty:
            skip them; they are skipped anyway for workflows that cannot be
            imported by module path).
        start: Virtual start time (default 2026-01-01 UTC).

    Raises:
        NotDeterministicError: A schedule broke (a) or (b), or an isolated replay
            diverged. The message shows the shrunk schedule, the seed and the
            divergence report.
    """
    from hypothesis import strategies as st

    setup = _setup(
        workflow,
        tuple(args),
        workflows,
        activities,
        mocks,
        signals,
        failures,
        store,
        workflow_id,
        start,
    )
    current = settings()
    if seed is None and not current.derandomize:
        seed = int.from_bytes(os.urandom(4), "big")
    seed_text = (
        f"{seed} (reproduce with assert_deterministic(..., seed={seed}))"
        if seed is not None and not current.derandomize
        else "derandomized by the hypothesis profile: the same schedules run every time"
    )
    first_failure: list[NotDeterministicError] = []
    sample: list[CheckResult] = []
    points = (
        st.none()
        if crash_points is None
        else st.lists(st.integers(0, 10_000), min_size=1, max_size=crash_points)
    )

    @settings(
        parent=current,
        max_examples=max_examples or current.max_examples,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=False,
    )
    @given(schedule=schedules(failures=failures), crashes=points)
    def check(schedule: Schedule, crashes: list[int] | None) -> None:
        try:
            result = check_schedule(setup, schedule, crashes)
        except NotDeterministicError as exc:
            if not first_failure:
                first_failure.append(exc)
            raise
        if len(sample) < _ISOLATED_SAMPLE:
            sample.append(result)

    if seed is not None and not current.derandomize:
        check = hypothesis_seed(seed)(check)
    try:
        check()
    except NotDeterministicError as exc:
        msg = f"{exc.report}\nSeed: {seed_text}"
        raise NotDeterministicError(
            msg, schedule=exc.schedule, crash_point=exc.crash_point, divergence=exc.divergence
        ) from None
    except Flaky:
        if not first_failure:
            raise
        first = first_failure[0]
        msg = (
            f"{first.report}\nSeed: {seed_text}\n"
            "This failure did not happen again when the same schedule was rerun: the workflow "
            "depends on something outside its history (wall time, threads, process state)."
        )
        raise NotDeterministicError(
            msg, schedule=first.schedule, divergence=first.divergence
        ) from None
    _check_isolated(setup, sample, hash_seeds)


def _check_isolated(setup: Setup, sample: Sequence[CheckResult], hash_seeds: Sequence[int]) -> None:
    histories = [(wid, h) for r in sample for wid, h in sorted(r.histories.items())]
    if not histories:
        return
    for hash_seed in hash_seeds:
        results = isolated_replay(setup, histories, hash_seed)
        if results is None:
            return
        for (wid, _), res in zip(histories, results, strict=True):
            if not res["ok"]:
                why = res["divergence"] or res["error"]
                msg = (
                    f"replaying the history of {wid!r} in a fresh interpreter with "
                    f"PYTHONHASHSEED={hash_seed} failed, though it replays in this "
                    f"process:\n{why}\n"
                    "The workflow depends on hash order: it iterates a set (or something "
                    "ordered by hashing) to decide its commands. Sort it first."
                )
                raise NotDeterministicError(msg)


def check_workflow(
    workflow: Callable[..., Any],
    *args: Any,
    schedule: Schedule | None = None,
    workflows: Iterable[Callable[..., Any]] = (),
    activities: Iterable[Callable[..., Any]] = (),
    mocks: Mapping[Any, Any] | None = None,
    signals: Sequence[SignalSpec | tuple[Any, ...]] = (),
    failures: bool = True,
    crash_points: Sequence[int] | None = None,
    store: str = "memory",
    workflow_id: str = "wf",
    start: datetime | None = None,
) -> CheckResult:
    """Check properties (a) and (b) for one schedule (for use inside your own ``@given``).

    Takes the same options as `assert_deterministic`, plus the ``schedule``
    to run (default: the plain one) and explicit ``crash_points`` (commit
    numbers, taken modulo the number of commits; None: after every commit).

    Raises:
        NotDeterministicError: Either property failed.
    """
    setup = _setup(
        workflow,
        tuple(args),
        workflows,
        activities,
        mocks,
        signals,
        failures,
        store,
        workflow_id,
        start,
    )
    return check_schedule(setup, schedule or Schedule(), crash_points)
