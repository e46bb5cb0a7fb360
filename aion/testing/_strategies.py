"""Hypothesis strategies for schedules and for recorded histories.

``schedules()`` draws the choices that drive a run (which activity completes
next, which attempt fails, which call has every retry exhausted, when the
workflow is cancelled, when a signal arrives relative to the timers);
``histories(workflow, ...)`` runs a workflow under a drawn schedule and gives
the history it recorded, for tests that want real histories to work on.
Both shrink towards the plainest run: everything completes at once, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from aion._events import Event
from aion.testing._driver import Schedule, SignalSpec, Step, run_schedule
from aion.testing._executor import normalize_mocks

#: Upper bound for a step's index: enough to reach any of a handful of choices.
_MAX_INDEX = 7


def steps(*, failures: bool = True, cancel: bool = True) -> st.SearchStrategy[Step]:
    """One schedule choice.

    Failures are drawn about one time in four and exhausted retries about one
    in sixteen (when ``failures``), a cancel of the workflow about one in
    sixteen (when ``cancel``), so schedules reach the `aion.ActivityError` and
    `aion.Cancelled` handlers; each shrinks to ``False``.

    Args:
        failures: Whether the step may fail an attempt or exhaust a call's retries.
        cancel: Whether the step may cancel the workflow under test.
    """
    fail = st.sampled_from((False, False, False, True)) if failures else st.just(False)
    rare = st.integers(0, 15).map(lambda n: n == 15)
    exhaust = rare if failures else st.just(False)
    cancels = rare if cancel else st.just(False)
    return st.builds(
        Step, index=st.integers(0, _MAX_INDEX), fail=fail, exhaust=exhaust, cancel=cancels
    )


def schedules(
    *, failures: bool = True, cancel: bool = True, max_steps: int = 30
) -> st.SearchStrategy[Schedule]:
    """Schedules of up to ``max_steps`` choices (the rest default to the first action).

    Args:
        failures: Whether steps may fail activity attempts and exhaust retries.
        cancel: Whether steps may cancel the workflow (on by default, as in
            `assert_deterministic`).
        max_steps: How many choices to draw at most.
    """
    return st.lists(steps(failures=failures, cancel=cancel), max_size=max_steps).map(
        lambda xs: Schedule(tuple(xs))
    )


def as_signal(spec: SignalSpec | tuple[Any, ...]) -> SignalSpec:
    """A `Signal` from a `Signal` or a ``(name, payload)`` / ``(name, payload, at)`` tuple."""
    if isinstance(spec, SignalSpec):
        return spec
    if len(spec) == 2:
        return SignalSpec(spec[0], spec[1])
    return SignalSpec(spec[0], spec[1], at=spec[2])


def histories(
    workflow: Callable[..., Any],
    *args: Any,
    workflows: Iterable[Callable[..., Any]] = (),
    activities: Iterable[Callable[..., Any]] = (),
    mocks: Mapping[Any, Any] | None = None,
    signals: Sequence[SignalSpec | tuple[Any, ...]] = (),
    failures: bool = True,
    cancel: bool = True,
) -> st.SearchStrategy[list[Event]]:
    """Histories ``workflow`` records when run on ``args`` under drawn schedules.

    Each draw runs the workflow on a fresh in-memory engine with virtual time
    and returns the workflow's history (every run, in seq order). Schedules
    may cancel the workflow (``cancel``) and exhaust a call's retries
    (``failures``), so cancelled and failed histories are drawn too.
    """
    from aion.testing._driver import Setup

    def build(schedule: Schedule) -> list[Event]:
        setup = Setup(
            workflow,
            tuple(args),
            workflows=list(workflows),
            activities=list(activities),
            mocks=normalize_mocks(mocks),
            signals=tuple(as_signal(s) for s in signals),
            failures=failures,
            cancel=cancel,
        )
        run = run_schedule(setup, schedule)
        try:
            history: list[Event] = run.store.history(setup.workflow_id)
            return history
        finally:
            run.close()

    return schedules(failures=failures, cancel=cancel).map(build)
