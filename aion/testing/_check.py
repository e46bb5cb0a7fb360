"""The two determinism properties, checked for one schedule.

(a) Replaying every history a run produced yields the identical command
    stream and outcome (no divergence, no extra commands, same status).
(b) Crashing after any commit and recovering on a fresh engine ends with the
    same outcome and the same decisions as the uninterrupted run, the
    durable part of the history being a prefix of the recovered one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from aion import _codec
from aion._errors import AionError
from aion._events import CommandCancelled, CommandEvent, Event, WorkflowStarted
from aion._replay import replay
from aion.testing._crash import recover
from aion.testing._driver import Action, Run, Schedule, Setup, run_schedule
from aion.testing._perturb import Perturbation
from aion.testing._run_ids import seeded_run_ids


class NotDeterministicError(AionError, AssertionError):
    """A workflow behaved differently on replay or after recovery than when it ran.

    Attributes:
        report: The full report: what failed, the schedule, the crash point.
        schedule: The schedule that exposed it.
        crash_point: The commit after which the crash happened (property b).
        divergence: The replay's `NondeterminismError`, when one was reported.
    """

    def __init__(
        self,
        report: str,
        *,
        schedule: Schedule | None = None,
        crash_point: int | None = None,
        divergence: BaseException | None = None,
    ) -> None:
        super().__init__(report)
        self.report = report
        self.schedule = schedule
        self.crash_point = crash_point
        self.divergence = divergence


@attrs.frozen
class CheckResult:
    """What one schedule produced when every check passed.

    Attributes:
        outcome: The workflow's ``(status, result or error)``.
        commits: How many batches the uninterrupted run committed.
        crash_points: The commits after which a crash was simulated.
        histories: Every workflow's history from the uninterrupted run.
        trace: The actions taken.
    """

    outcome: tuple[str, Any]
    commits: int
    crash_points: tuple[int, ...]
    histories: dict[str, list[Event]]
    trace: tuple[Action, ...]


def format_trace(trace: Sequence[Action]) -> str:
    """The actions of a run, one per line, with the commit count at each."""
    if not trace:
        return "   (no actions: the workflow ran to its end on its own)"
    width = len(str(len(trace)))
    return "\n".join(
        f"  {i:>{width}}. {a.label}  [after commit {a.committed_before}]"
        for i, a in enumerate(trace, 1)
    )


def replay_problems(run: Run) -> list[tuple[str, BaseException | None]]:
    """Property (a) for every history of a run: what went wrong, if anything."""
    problems: list[tuple[str, BaseException | None]] = []
    for workflow_id, history in sorted(run.histories().items()):
        info = run.store.info(workflow_id)
        if info is None or info.status == "stalled":
            continue
        started = [e for e in history if isinstance(e, WorkflowStarted)][-1]
        result = replay(
            started.name, history, registry=run.engine.registry, workflow_id=workflow_id
        )
        if result.divergence is not None:
            problems.append(
                (
                    f"replaying the history of {workflow_id!r} diverged:\n{result.divergence}",
                    result.divergence,
                )
            )
            continue
        if not result.ok:
            problems.append(
                (f"replaying the history of {workflow_id!r} stalled: {result.error}", result.error)
            )
            continue
        extra = result.interpreter.new_decisions if result.interpreter is not None else []
        if extra:
            kinds = ", ".join(d.kind.__name__ for d in extra)
            problems.append(
                (f"replaying {workflow_id!r} issued commands history lacks: {kinds}", None)
            )
        if result.status != info.status:
            problems.append(
                (
                    f"replaying {workflow_id!r} ended {result.status!r}, "
                    f"history says {info.status!r}",
                    None,
                )
            )
    return problems


def _decisions(history: Sequence[Event]) -> list[tuple[str, int | None, str]]:
    out: list[tuple[str, int | None, str]] = []
    for e in history:
        if e.FAMILY != "decision":
            continue
        if isinstance(e, CommandEvent):
            out.append((type(e).__name__, e.ordinal, e.digest))
        elif isinstance(e, CommandCancelled):
            out.append((type(e).__name__, e.ordinal, ""))
        else:
            out.append((type(e).__name__, None, ""))
    return out


def _durable(run: Run, k: int) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for batch in run.store.batches[:k]:
        for item in batch:
            out.setdefault(item.workflow_id, []).extend(item.events)
    return out


def crash_problem(run: Run, k: int) -> tuple[str, BaseException | None] | None:
    """Property (b) for one crash point: what went wrong, if anything."""
    recovered = recover(run, k)
    try:
        after = recovered.histories()
        for workflow_id, before in _durable(run, k).items():
            now = after.get(workflow_id, [])[: len(before)]
            if [_codec.event_to_dict(e) for e in now] != [_codec.event_to_dict(e) for e in before]:
                return (
                    f"after recovery the durable history of {workflow_id!r} is not a prefix",
                    None,
                )
        replayed = replay_problems(recovered)
        if replayed:
            text, exc = replayed[0]
            return ("after recovery, " + text, exc)
        want, got = run.outcome(), recovered.outcome()
        if want != got:
            return (f"the uninterrupted run ended {want}, the recovered run ended {got}", None)
        root = run.setup.workflow_id
        a = _decisions(run.histories().get(root, []))
        b = _decisions(after.get(root, []))
        if a != b:
            first = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)),
            )
            x = a[first] if first < len(a) else "(nothing)"
            y = b[first] if first < len(b) else "(nothing)"
            return (
                f"the recovered run made different decisions: decision {first + 1} was {x}, "
                f"after recovery it is {y}",
                None,
            )
        return None
    finally:
        recovered.close()


def _report(setup: Setup, run: Run, what: str, crash: int | None) -> str:
    name = getattr(setup.workflow, "__qualname__", str(setup.workflow))
    lines = [
        f"workflow {name} is not deterministic under a generated schedule.",
        "",
        what,
        "",
        "Schedule (the actions taken, in order):",
        format_trace(run.trace),
        f"Outcome of the uninterrupted run: {run.outcome()}",
    ]
    if crash is not None:
        lines.append(
            f"Crash point: after commit {crash} of {len(run.store.batches)}, then recovery."
        )
    return "\n".join(lines)


def audit_problem(setup: Setup) -> str | None:
    """What the step audit saw workflow code touch (and swallowed cancellations), if anything."""
    auditor = setup.auditor
    if auditor is None:
        return None
    name = setup.name
    lines = [f.describe(name) for f in auditor.findings.values()]
    from aion.testing._lint import swallowing_handler

    for where in auditor.swallowed:
        handler = swallowing_handler(where)
        if handler is not None:
            lines.append(
                f"workflow {name} swallowed aion.Cancelled (thrown in at {where}) in the "
                f"handler at {handler}: catch aion.Cancelled before Exception and re-raise it"
            )
    if not lines:
        return None
    return (
        "\n".join(lines)
        + "\nThese are outside the workflow's history, so a replay or a recovered run can see "
        "something else. Use aion.now(), aion.random(), aion.uuid4() or an activity instead; "
        "wrap a deliberate use in aion.testing.allow_nondeterminism(reason)."
    )


def _raise_audit(setup: Setup, run: Run, schedule: Schedule, crash: int | None) -> None:
    problem = audit_problem(setup)
    if problem is not None:
        raise NotDeterministicError(
            _report(setup, run, "Audit: " + problem, crash), schedule=schedule, crash_point=crash
        )


def check_schedule(
    setup: Setup,
    schedule: Schedule,
    crash_points: Sequence[int] | None = None,
    *,
    perturb_seed: int = 0,
) -> CheckResult:
    """Run ``setup`` under ``schedule`` and check properties (a) and (b).

    Args:
        setup: The workflow, its input, mocks, signals and store kind.
        schedule: The choices to drive the run with.
        crash_points: Commits after which to crash and recover (None: after
            every commit; values are taken modulo the number of commits).
        perturb_seed: Seeds what replays and recoveries perturb (random's
            state, the clocks, directory order).

    Raises:
        NotDeterministicError: Either property failed; the message is the report.
    """
    import random

    auditor = setup.auditor
    if auditor is not None:
        auditor.findings.clear()
        auditor.swallowed.clear()
        auditor.perturbation = None
    rng = random.Random(perturb_seed)
    with seeded_run_ids():
        return _check(setup, schedule, crash_points, rng)


def _check(
    setup: Setup, schedule: Schedule, crash_points: Sequence[int] | None, rng: Any
) -> CheckResult:
    auditor = setup.auditor
    run = run_schedule(setup, schedule)
    try:
        _raise_audit(setup, run, schedule, None)
        if auditor is not None:
            auditor.perturbation = Perturbation.draw(rng)
        problems = replay_problems(run)
        _raise_audit(setup, run, schedule, None)
        if problems:
            text, exc = problems[0]
            raise NotDeterministicError(
                _report(setup, run, "Replay: " + text, None), schedule=schedule, divergence=exc
            )
        commits = len(run.store.batches)
        if crash_points is None:
            points = tuple(range(1, commits + 1))
        else:
            points = tuple(sorted({1 + (p % commits) for p in crash_points}))
        for k in points:
            if auditor is not None:
                auditor.perturbation = Perturbation.draw(rng)
            problem = crash_problem(run, k)
            _raise_audit(setup, run, schedule, k)
            if problem is not None:
                text, exc = problem
                raise NotDeterministicError(
                    _report(setup, run, "Crash and recovery: " + text, k),
                    schedule=schedule,
                    crash_point=k,
                    divergence=exc,
                )
        return CheckResult(
            outcome=run.outcome(),
            commits=commits,
            crash_points=points,
            histories=run.histories(),
            trace=tuple(run.trace),
        )
    finally:
        if auditor is not None:
            auditor.perturbation = None
        run.close()
