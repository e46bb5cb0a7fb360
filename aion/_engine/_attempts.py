"""Activity calls in flight: dispatching attempts, their reports, timeouts and retry times.

An attempt starts only after its call (`ActivityScheduled`) or its retry wait
is committed, runs wherever the executor puts it, and reports from any thread
into the runtime's inbox; the step loop hands the report back here, which
turns it into the outcome to record (with the retry time the policy gives).
A report from an attempt that is no longer current (timed out, cancelled, its
run ended or let go) is ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aion._definitions import RetryPolicy
from aion._engine._activities import (
    ActivityExecutor,
    ActivityInfo,
    Failed,
    Settled,
    settle_outcome,
)
from aion._engine._inbox import AttemptReport
from aion._engine._instance import ActivitySpec
from aion._engine._state import EngineState
from aion._engine._timers import CommandKey
from aion._engine._tracing import NO_TRACING, EndAttempt, NoTracing, end_nothing
from aion._events import (
    ActivityCompleted,
    ActivityFailed,
    Decision,
    ErrorInfo,
    WorkflowStalled,
)


class Attempt:
    """One attempt of an activity call in flight: its number, deadline and handle."""

    __slots__ = ("attempt", "deadline", "end_span", "future")

    def __init__(self, attempt: int, deadline: float | None) -> None:
        self.attempt = attempt
        self.deadline = deadline
        self.future: Any = None
        self.end_span: EndAttempt = end_nothing


class _Done:
    """The ``done`` an executor calls with an attempt's outcome, from any thread.

    An object rather than a closure: a closure's function and cells are what
    the cyclic collector would rescan for every attempt in flight. It holds no
    reference to the `Attempt` (whose ``future`` may hold it): no cycle.
    """

    __slots__ = ("attempt", "end_span", "key", "name", "report")

    def __init__(
        self,
        key: CommandKey,
        name: str,
        attempt: int,
        end_span: EndAttempt,
        report: Callable[[AttemptReport], None],
    ) -> None:
        self.key = key
        self.name = name
        self.attempt = attempt
        self.end_span = end_span
        self.report = report

    def __call__(self, outcome: Any) -> None:
        settled = settle_outcome(outcome, self.name)  # any executor's report, normalised
        if isinstance(settled, Failed):
            self.end_span(False, settled.error.type, settled.error.message)
        else:
            self.end_span(True, None, None)
        self.report(AttemptReport(key=self.key, attempt=self.attempt, outcome=settled))


class Attempts:
    """The activity calls of one runtime: their specs, and the attempts in flight.

    Args:
        state: The runtime's record (outcomes and stalls are queued there).
        runner: Where attempts run.
        report: Hands an attempt's report to the step loop (from any thread).

    Attributes:
        specs: Recorded calls that may run (again), by command.
        inflight: The current attempt of each call that is running.
    """

    def __init__(
        self,
        state: EngineState,
        runner: ActivityExecutor,
        report: Callable[[AttemptReport], None],
        tracing: NoTracing = NO_TRACING,
    ) -> None:
        self.state = state
        self.runner = runner
        self._report = report
        self.tracing = tracing
        self.specs: dict[CommandKey, ActivitySpec] = {}
        self.inflight: dict[CommandKey, Attempt] = {}
        # The keys in specs, by workflow, in the same order: ending a run must not scan
        # every workflow's calls.
        self._keys: dict[str, dict[CommandKey, None]] = {}

    def keep(self, key: CommandKey, spec: ActivitySpec) -> None:
        """Hold a recorded call's spec: it may run (again)."""
        self.specs[key] = spec
        keys = self._keys.get(key[0])
        if keys is None:
            keys = self._keys[key[0]] = {}
        keys[key] = None

    def _drop(self, key: CommandKey) -> None:
        if self.specs.pop(key, None) is not None:
            keys = self._keys.get(key[0])
            if keys is not None:
                keys.pop(key, None)

    def schedule(self, key: CommandKey, spec: ActivitySpec) -> None:
        """A call was recorded: keep its spec and start its first attempt."""
        self.keep(key, spec)
        self.dispatch(key, spec, 1)

    def retry(self, key: CommandKey) -> None:
        """A retry wait ended: start the next attempt (if the call is still wanted)."""
        spec = self.specs.get(key)
        if spec is not None:
            self.dispatch(key, spec, spec.attempts + 1)

    def settled(self, key: CommandKey) -> None:
        """The call's final outcome is recorded: it never runs again."""
        self._drop(key)

    def cancel(self, key: CommandKey) -> None:
        """The call was cancelled: stop waiting for its attempt."""
        attempt = self.inflight.pop(key, None)
        if attempt is not None:
            attempt.end_span(False, "aion.Cancelled", "the call was cancelled")
            if attempt.future is not None:
                attempt.future.cancel()
        self._drop(key)

    def forget_run(self, workflow_id: str, run_id: str) -> None:
        """The run ended (or was let go): none of its calls runs again."""
        keys = self._keys.pop(workflow_id, {})
        for key in [k for k in keys if k[1] == run_id]:
            del keys[key]
            self.specs.pop(key, None)
            attempt = self.inflight.pop(key, None)
            if attempt is not None:
                attempt.end_span(False, "aion.Abandoned", "the run ended or was let go")
        if keys:  # another run's calls (a continued run's successor)
            self._keys[workflow_id] = keys

    def finished(self, key: CommandKey, attempt_no: int, outcome: Settled) -> None:
        """Queue the outcome of an attempt's report (ignored when the attempt is stale)."""
        attempt = self.inflight.get(key)
        spec = self.specs.get(key)
        if attempt is None or attempt.attempt != attempt_no or spec is None:
            return  # a stale attempt (timed out, cancelled) or a run that ended
        del self.inflight[key]
        workflow_id, run_id, ordinal = key
        fields: dict[str, Any] = {"run_id": run_id, "ordinal": ordinal, "attempt": attempt_no}
        if isinstance(outcome, Failed):
            fields["error"] = outcome.error
            fields["retry_at"] = self._retry_at(spec.retry, attempt_no, outcome.error)
            self.state.enqueue(workflow_id, Decision(kind=ActivityFailed, fields=fields))
        else:
            fields["result"] = outcome.result
            self.state.enqueue(workflow_id, Decision(kind=ActivityCompleted, fields=fields))

    def _retry_at(self, policy: RetryPolicy, attempt: int, error: ErrorInfo) -> datetime | None:
        if attempt >= policy.max_attempts:
            return None
        short_type = error.type.rsplit(".", 1)[-1]
        if error.type in policy.non_retryable or short_type in policy.non_retryable:
            return None
        if error.type in ("aion.CodecError", "aion.NotRegisteredError", "aion.NotPicklableError"):
            return None
        delay = policy.initial_interval.total_seconds() * policy.backoff ** (attempt - 1)
        delay = min(delay, policy.max_interval.total_seconds())
        return self.state.clock.now() + timedelta(seconds=delay)

    def expire(self) -> None:
        """Fail every attempt that ran past its timeout (its late report is then ignored)."""
        now_mono = time.monotonic()
        for key, attempt in list(self.inflight.items()):
            if attempt.deadline is not None and now_mono >= attempt.deadline:
                spec = self.specs[key]
                if attempt.future is not None:
                    attempt.future.cancel()
                error = ErrorInfo(
                    type="aion.ActivityTimeout",
                    message=(
                        f"attempt {attempt.attempt} of activity {spec.name!r} ran past its "
                        f"timeout of {spec.timeout:g}s"
                    ),
                )
                attempt.end_span(False, error.type, error.message)
                self.finished(key, attempt.attempt, Failed(error=error))

    def dispatch(self, key: CommandKey, spec: ActivitySpec, attempt_no: int) -> None:
        """Start an attempt of a recorded activity call."""
        workflow_id, run_id, ordinal = key
        registry = self.state.registry
        definition = registry.activities.get(spec.name)
        inst = self.state.instances.get(workflow_id)
        if definition is None:
            if inst is not None and inst.status != "stalled":
                inst.status = "stalled"
                known = ", ".join(sorted(registry.activities)) or "none"
                reason = (
                    f"activity {spec.name!r} is not registered with this engine "
                    f"(registered: {known})."
                )
                stall = Decision(kind=WorkflowStalled, fields={"reason": reason})
                self.state.enqueue(workflow_id, stall)
            return
        spec.attempts = attempt_no
        deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
        attempt = Attempt(attempt_no, deadline)
        self.inflight[key] = attempt
        info = ActivityInfo(
            workflow_id=workflow_id,
            run_id=run_id,
            ordinal=ordinal,
            attempt=attempt_no,
            activity=spec.name,
            idempotency_key=f"{workflow_id}:{run_id}:{ordinal}",
        )

        attempt.end_span = end_span = self.tracing.attempt_started(info)
        done = _Done(key, spec.name, attempt_no, end_span, self._report)
        attempt.future = self.runner.submit(definition, spec.args, spec.kwargs, info, done)
