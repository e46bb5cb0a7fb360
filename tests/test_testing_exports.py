"""aion.testing's public names are a contract: pinned here."""

from __future__ import annotations

import aion.testing

EXPECTED = [
    "CheckResult",
    "InjectedFailureError",
    "NotDeterministicError",
    "RunResult",
    "Schedule",
    "ScheduleError",
    "ScheduledExecutor",
    "Signal",
    "Step",
    "WorkflowEnvironment",
    "allow_nondeterminism",
    "assert_deterministic",
    "check_workflow",
    "histories",
    "schedules",
    "steps",
]


def test_testing_exports_are_pinned() -> None:
    assert sorted(aion.testing.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(aion.testing, name) is not None
