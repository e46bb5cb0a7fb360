"""aion.testing: prove workflows deterministic, with no server and no database file.

Layout:

* ``_executor``    `ScheduledExecutor`: activity attempts complete only when told
* ``_driver``      runs a workflow on a real engine, one scheduled action at a time
* ``_check``       properties (a) replay and (b) crash-and-recover, for one schedule
* ``_env``         `WorkflowEnvironment` (virtual time, mocks, scripted signals)
* ``_audit``       the step audit (what workflow code touches), `allow_nondeterminism`
* ``_determinism`` `assert_deterministic` (seeded schedules, shrinking, one error type)
* ``_hashseeds``   replay servers under other ``PYTHONHASHSEED``s
* ``_lint``        the static lint behind ``aion lint`` and the pytest hook
* ``_strategies``  hypothesis strategies for schedules and histories
* ``_isolated``    the replay server (a fresh interpreter under another hash seed)
* ``_plugin``      the pytest plugin (``workflow_env`` fixture)

`assert_deterministic` and the strategies need hypothesis (the ``test``
extra); they are imported on first use so the environment and the pytest
fixture work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aion.testing._audit import allow_nondeterminism as allow_nondeterminism
from aion.testing._check import CheckResult as CheckResult
from aion.testing._check import NotDeterministicError as NotDeterministicError
from aion.testing._driver import Schedule as Schedule
from aion.testing._driver import ScheduleError as ScheduleError
from aion.testing._driver import SignalSpec as Signal
from aion.testing._driver import Step as Step
from aion.testing._env import RunResult as RunResult
from aion.testing._env import WorkflowEnvironment as WorkflowEnvironment
from aion.testing._executor import InjectedFailureError as InjectedFailureError
from aion.testing._executor import ScheduledExecutor as ScheduledExecutor

if TYPE_CHECKING:
    from aion.testing._determinism import assert_deterministic as assert_deterministic
    from aion.testing._determinism import check_workflow as check_workflow
    from aion.testing._strategies import histories as histories
    from aion.testing._strategies import schedules as schedules
    from aion.testing._strategies import steps as steps

_LAZY = {
    "assert_deterministic": "aion.testing._determinism",
    "check_workflow": "aion.testing._determinism",
    "histories": "aion.testing._strategies",
    "schedules": "aion.testing._strategies",
    "steps": "aion.testing._strategies",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'aion.testing' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
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
