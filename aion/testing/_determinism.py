"""`assert_deterministic`: prove a workflow deterministic under generated schedules.

Schedules (completion order and timing of activities, failures, exhausted
retries, cancellation, signal arrival relative to timers) are drawn from a
seeded generator, so a reported seed reproduces the exact run. Each is run on
a real engine with virtual time under the step audit, and the properties of
`aion.testing._check` are asserted, with a crash after every commit; a
failure is shrunk to a simpler schedule and always raised as
`NotDeterministicError`. Then a sample of the histories is replayed in other
interpreters under hash seeds drawn for this call, which catches commands in
set order.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aion import fixtures
from aion._definitions import activity_definition, workflow_definition
from aion._errors import NondeterminismError
from aion._events import Event
from aion.testing import _hashseeds
from aion.testing._audit import Auditor
from aion.testing._check import CheckResult, NotDeterministicError, check_schedule, format_trace
from aion.testing._driver import Schedule, Setup, SignalSpec, Step
from aion.testing._executor import normalize_mocks
from aion.testing._strategies import as_signal

#: Schedules tried by default: enough to reach failures, retries, cancellation.
DEFAULT_EXAMPLES = 20
#: With ``store="duckdb"`` every run and every crash point is a new file to create,
#: close and reopen, so the defaults there are a handful of schedules, 2 crashes each.
DUCKDB_EXAMPLES = 4
DUCKDB_CRASH_POINTS = 2
#: Produced histories replayed under the other hash seeds.
_ISOLATED_SAMPLE = 3
#: Simpler schedules tried when shrinking a failure.
_SHRINK_BUDGET = 40


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
    cancel: bool = False,
    audit: bool = True,
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
        cancel=cancel,
        auditor=Auditor() if audit else None,
        **extra,
    )


def draw_schedule(rng: random.Random, *, failures: bool, cancel: bool) -> Schedule:
    """A random schedule: mostly first choices, some reordering, failures and one cancel."""
    n = rng.randint(1, 24)
    steps = []
    for _ in range(n):
        index = 0 if rng.random() < 0.4 else rng.randint(1, 7)
        fail = failures and rng.random() < 0.2
        exhaust = failures and not fail and rng.random() < 0.06
        steps.append(Step(index, fail, exhaust))
    if cancel and rng.random() < 0.3:
        at = rng.randrange(n)
        steps[at] = Step(steps[at].index, cancel=True)
    return Schedule(tuple(steps))


def _schedule(i: int, rng: random.Random, *, failures: bool, cancel: bool) -> Schedule:
    """The i-th schedule: plain, cancelled at once, retries exhausted at once, then drawn.

    The first three reach the happy path, the `aion.Cancelled` handlers and the
    `aion.ActivityError` handlers on every seed; the drawn ones vary the rest.
    """
    if i == 0:
        return Schedule()
    if i == 1 and cancel:
        return Schedule((Step(cancel=True),))
    if i == 2 and failures:
        return Schedule((Step(exhaust=True),))
    return draw_schedule(rng, failures=failures, cancel=cancel)


def _simpler(schedule: Schedule) -> list[Schedule]:
    steps = schedule.steps
    out = [Schedule(steps[:k]) for k in range(len(steps))]
    out += [Schedule(steps[:i] + steps[i + 1 :]) for i in range(len(steps))]
    out += [
        Schedule((*steps[:i], Step(0, s.fail, s.exhaust, s.cancel), *steps[i + 1 :]))
        for i, s in enumerate(steps)
        if s.index
    ]
    out += [
        Schedule((*steps[:i], Step(s.index), *steps[i + 1 :]))
        for i, s in enumerate(steps)
        if s.fail or s.exhaust or s.cancel
    ]
    return out


def _shrink(
    setup: Setup, found: NotDeterministicError, crashes: Sequence[int] | None, seed: int
) -> NotDeterministicError:
    """The failure of the simplest schedule found that still fails."""
    best = found
    budget = _SHRINK_BUDGET
    improved = True
    while improved and budget > 0 and best.schedule is not None:
        improved = False
        for candidate in _simpler(best.schedule):
            if budget <= 0:
                break
            budget -= 1
            try:
                check_schedule(setup, candidate, crashes, perturb_seed=seed)
            except NotDeterministicError as exc:
                best = exc
                improved = True
                break
    return best


def assert_deterministic(
    workflow: Callable[..., Any],
    *args: Any,
    workflows: Iterable[Callable[..., Any]] = (),
    activities: Iterable[Callable[..., Any]] = (),
    mocks: Mapping[Any, Any] | None = None,
    signals: Sequence[SignalSpec | tuple[Any, ...]] = (),
    failures: bool = True,
    cancel: bool = True,
    max_examples: int | None = None,
    crash_points: int | None = None,
    store: str = "memory",
    workflow_id: str = "wf",
    seed: int | None = None,
    hash_seeds: int | Sequence[int] | None = None,
    start: datetime | None = None,
) -> None:
    """Assert that ``workflow(*args)`` is deterministic under generated schedules.

    Every check is reproducible: the schedules, crash points and replay
    perturbations all come from ``seed`` (printed in every report). Under each
    schedule the workflow runs on a real engine with virtual time, and:

    (0) the step audit reports what workflow code touched outside its history
        (clocks, ``random``, ``uuid``, ``secrets``, ``os.environ``, files,
        directory listings, threads, executors, ``id``/``hash``), naming
        ``file:line``, and any `aion.Cancelled` an ``except Exception``
        swallowed;
    (a) every history it produced (its own, its children's) replays with no
        divergence, no extra command and the same outcome, with ``random``
        reseeded, the clocks skewed by days and directory listings shuffled;
    (b) for a crash after each commit, a fresh engine recovering the durable
        prefix ends with the same outcome and the same decisions. Activities
        there get the outcome the uninterrupted run got for the same
        (workflow, ordinal, attempt), so impure activities and stateful mocks
        are not mistaken for nondeterministic workflows.

    Finally a few histories are replayed in other interpreters under
    ``PYTHONHASHSEED``s drawn for this call from ``seed`` (10 by default: a
    two-element set is split with probability above 0.999; they are printed
    to stderr and in reports), which catches commands ordered by a set.

    Args:
        workflow: The ``@aion.workflow`` function under test.
        *args: Its input.
        workflows: Other workflows it starts as children.
        activities: Activities to run for real (those not in ``mocks``).
        mocks: Activity (function or registered name) -> a value to return,
            an exception to raise, or a function to call with the arguments.
        signals: Signals to deliver, as `Signal` objects or ``(name, payload)``
            tuples; the schedule decides when each arrives (in list order).
        failures: Let schedules fail activity attempts (retries), and exhaust
            every retry of a call (`aion.ActivityError` in the workflow).
        cancel: Let schedules cancel the workflow (`aion.Cancelled` thrown in).
        max_examples: Schedules to try (default 20, 4 with DuckDB; the first
            three are the plain, the cancelled and the exhausted-retries one).
        crash_points: Crash points per schedule (None: after every commit with
            the memory store, 2 with DuckDB).
        store: ``"memory"``, or ``"duckdb"`` for temporary DuckDB files with
            real engine restarts.
        workflow_id: The id the workflow runs under.
        seed: Reproduce a reported failure (default: fresh entropy).
        hash_seeds: How many other ``PYTHONHASHSEED``s to replay under
            (default 10, the fewest that split a two-element set with
            probability 0.999; drawn for each call from ``seed``, so the same seed
            gives the same ones; 0 or ``()`` skips the check), or the exact
            seeds to use.
        start: Virtual start time (default 2026-01-01 UTC).

    Raises:
        NotDeterministicError: Always this type, whatever failed. The message
            shows the (shrunk) schedule, the seed and the divergence.
        ScheduleError: A schedule ran past 2000 actions and the audit saw
            nothing outside the history: the workflow never ends under
            virtual time (a run the audit caught is stopped and reported).
    """
    if hash_seeds is None:
        hash_seeds = _hashseeds.DEFAULT_COUNT
    count = hash_seeds if isinstance(hash_seeds, int) else len(hash_seeds)
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
        cancel,
    )
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    reachable = count > 0 and not _hashseeds.unreachable(setup.workflows)
    seeds: list[int] = []
    if reachable:  # the servers import in the background meanwhile
        if isinstance(hash_seeds, int):
            seeds = _hashseeds.draw(seed, hash_seeds)
        else:
            seeds = list(hash_seeds)
        _hashseeds.POOL.prepare(seeds)
    rng = random.Random(seed)
    examples = max_examples or (DUCKDB_EXAMPLES if store == "duckdb" else DEFAULT_EXAMPLES)
    points = crash_points
    if points is None and store == "duckdb":
        points = DUCKDB_CRASH_POINTS
    sample: list[tuple[Schedule, CheckResult]] = []
    for i in range(examples):
        schedule = _schedule(i, rng, failures=failures, cancel=cancel)
        crashes = None if points is None else [rng.randrange(10_000) for _ in range(points)]
        perturb = rng.getrandbits(32)
        try:
            result = check_schedule(setup, schedule, crashes, perturb_seed=perturb)
        except NotDeterministicError as exc:
            shrunk = _shrink(setup, exc, crashes, perturb)
            raise _with_seed(shrunk, seed) from None
        if len(sample) < _ISOLATED_SAMPLE:
            sample.append((schedule, result))
    if count > 0 and not reachable:
        _hashseeds.warn_unreachable(_hashseeds.unreachable(setup.workflows))
    elif count > 0:
        _check_isolated(setup, sample, seeds, seed)


def _with_seed(exc: NotDeterministicError, seed: int) -> NotDeterministicError:
    msg = f"{exc.report}\n{_seed_line(seed)}"
    return NotDeterministicError(
        msg, schedule=exc.schedule, crash_point=exc.crash_point, divergence=exc.divergence
    )


def isolated_request(setup: Setup, histories: Sequence[tuple[str, list[Event]]]) -> dict[str, Any]:
    """The request that replays ``histories`` in another interpreter."""
    activities = [r for a in setup.activities if (r := _hashseeds.reference(a)) is not None]
    return {
        "workflows": [_hashseeds.reference(w) for w in setup.workflows],
        "activities": activities,
        "histories": [fixtures.to_dict(wid, h) for wid, h in histories],
    }


def cache_key(request: dict[str, Any]) -> str:
    """``request`` as text with its random run ids renamed ``run-1``, ``run-2``... in order.

    Run ids are the only random part of a kit run, so the same run under
    another seed gives the same key, and the replay servers' answer is reused.
    (The request itself keeps the real ids: ``aion.random()`` is seeded by them.)
    """
    ids: dict[str, str] = {}
    for fixture in request["histories"]:
        for event in fixture.get("events", []):
            rid = event.get("run_id") if isinstance(event, dict) else None
            if isinstance(rid, str) and rid not in ids:
                ids[rid] = f"run-{len(ids) + 1}"
    text = json.dumps(request, sort_keys=True)
    for rid, name in ids.items():
        text = text.replace(rid, name)
    return text


def _check_isolated(
    setup: Setup, sample: Sequence[tuple[Schedule, CheckResult]], seeds: Sequence[int], seed: int
) -> None:
    histories: list[tuple[str, list[Event]]] = []
    made_by: list[tuple[Schedule, CheckResult]] = []
    for schedule, r in sample:
        for wid, h in sorted(r.histories.items()):
            if (wid, h) not in histories:
                histories.append((wid, h))
                made_by.append((schedule, r))
    if not histories:
        return
    request = isolated_request(setup, histories)
    used = ", ".join(str(s) for s in seeds)
    sys.stderr.write(
        f"aion.testing: replaying {len(histories)} histories of {setup.name} under "
        f"PYTHONHASHSEED={used} (seed={seed})\n"
    )
    answers = _hashseeds.POOL.replay(request, seeds, key=cache_key(request))
    for hash_seed, answer in answers:
        if isinstance(answer, dict):
            msg = (
                f"the replay interpreter with PYTHONHASHSEED={hash_seed} could not replay "
                f"the histories of {setup.name}:\n{answer.get('fatal')}"
            )
            msg = f"{msg}\nHash seeds: {used}\n{_seed_line(seed)}"
            raise NotDeterministicError(msg)
        for (wid, _), (schedule, made), res in zip(histories, made_by, answer, strict=True):
            if not res["ok"]:
                why = res["divergence"] or res["error"]
                msg = (
                    f"workflow {setup.name} is not deterministic across processes: replaying "
                    f"the history of {wid!r} in another interpreter with "
                    f"PYTHONHASHSEED={hash_seed} failed, though it replays in this one:\n"
                    f"{why}\n"
                    "The workflow depends on something that differs between processes: "
                    "hash order (it iterates a set, or something ordered by hashing: sort "
                    "it first), or state kept in the process (module globals, caches).\n\n"
                    "Schedule (the actions taken, in order):\n"
                    f"{format_trace(made.trace)}\n"
                    f"Hash seeds tried: {used} (reproduce with hash_seeds=[{hash_seed}])\n"
                    f"{_seed_line(seed)}"
                )
                raise NotDeterministicError(
                    msg, schedule=schedule, divergence=_divergence(res.get("fields"), why)
                )


def _seed_line(seed: int) -> str:
    return f"Seed: {seed} (reproduce with assert_deterministic(..., seed={seed}))"


def _divergence(fields: Any, text: str) -> NondeterminismError | None:
    """The other interpreter's divergence, rebuilt from its fields (None: it only stalled)."""
    if not isinstance(fields, dict):
        return None
    return NondeterminismError(
        text,
        workflow_id=str(fields.get("workflow_id")),
        seq=int(fields.get("seq", 0)),
        recorded=dict(fields.get("recorded") or {}),
        current=dict(fields.get("current") or {}),
        context=tuple(fields.get("context") or ()),
    )


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
    cancel: bool = True,
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
        cancel,
    )
    return check_schedule(setup, schedule or Schedule(), crash_points)
