"""OpenTelemetry spans for the engine: one per workflow run, one per activity attempt.

The engine calls this from the same points it logs from (after a commit, at
adoption, at dispatch), so a span says what history says: a run's span
starts at the run's *recorded* start, ends when its end is committed, and
carries the workflow id, run id and type; an attempt's span is a child of
its run's span, from dispatch to outcome. Replay creates no spans (nothing
is dispatched or committed by it); a run recovered after a crash gets a new
span that starts at its recorded start and is marked ``aion.recovered``, so
a crash never leaves a trace without its run's end.

`NO_TRACING` stands in when no `aion.otel.Tracing` was given: every hook is
a no-op, and opentelemetry is never imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from aion._engine._activities import ActivityInfo
from aion._errors import ConfigurationError

RunKey = tuple[str, str]
#: An attempt's span end: called once with (ok, error type, error message).
EndAttempt = Callable[[bool, str | None, str | None], None]


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def end_nothing(ok: bool, error_type: str | None, message: str | None) -> None:
    """The attempt end of `NO_TRACING`."""


class NoTracing:
    """The hooks when tracing is off: each does nothing."""

    def run_started(
        self, workflow_id: str, run_id: str, name: str, at: datetime, *, recovered: bool = False
    ) -> None:
        """A run began (or was taken back after a restart)."""

    def run_ended(
        self, workflow_id: str, run_id: str, status: str, at: datetime, error: str | None = None
    ) -> None:
        """A run's end was committed."""

    def run_stalled(self, workflow_id: str, reason: str) -> None:
        """A run stalled (its span stays open: it resumes when fixed code is deployed)."""

    def released(self, workflow_id: str) -> None:
        """The engine let go of a workflow (another worker may drive it now)."""

    def attempt_started(self, info: ActivityInfo) -> EndAttempt:
        """An activity attempt was dispatched; returns what ends its span."""
        return end_nothing


NO_TRACING: Final = NoTracing()


class Tracing(NoTracing):
    """Spans for an engine's runs and activity attempts (``pip install 'aion[otel]'``).

    Pass one to ``aion.Engine(..., tracing=aion.otel.Tracing())``. Spans go to
    the tracer provider given, or to OpenTelemetry's global one (configure it
    with the SDK and an exporter as for any library).

    Args:
        tracer_provider: An ``opentelemetry.trace.TracerProvider``; None uses the global one.

    Raises:
        aion.ConfigurationError: opentelemetry is not installed.
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import trace
        except ImportError:
            msg = "aion's tracing needs OpenTelemetry: pip install 'aion[otel]'."
            raise ConfigurationError(msg) from None
        self._trace = trace
        self._tracer = trace.get_tracer("aion", tracer_provider=tracer_provider)
        self._runs: dict[RunKey, Any] = {}
        self._current: dict[str, str] = {}  # workflow id -> run id of its open span
        self._lock = threading.Lock()

    def run_started(
        self, workflow_id: str, run_id: str, name: str, at: datetime, *, recovered: bool = False
    ) -> None:
        """Open the run's span at its recorded start (once per run and process)."""
        with self._lock:
            if (workflow_id, run_id) in self._runs:
                return  # an evicted workflow rebuilt by replay: the same run, the same span
            span = self._tracer.start_span(
                f"aion.workflow {name}",
                start_time=_ns(at),
                attributes={
                    "aion.workflow_id": workflow_id,
                    "aion.run_id": run_id,
                    "aion.workflow_type": name,
                    "aion.recovered": recovered,
                },
            )
            self._runs[workflow_id, run_id] = span
            self._current[workflow_id] = run_id

    def run_ended(
        self, workflow_id: str, run_id: str, status: str, at: datetime, error: str | None = None
    ) -> None:
        """Close the run's span with its outcome, at the recorded end."""
        with self._lock:
            span = self._runs.pop((workflow_id, run_id), None)
            if self._current.get(workflow_id) == run_id:
                del self._current[workflow_id]
        if span is None:
            return
        span.set_attribute("aion.status", status)
        if error is not None:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error))
        span.end(end_time=_ns(at))

    def run_stalled(self, workflow_id: str, reason: str) -> None:
        """Note the stall on the open span."""
        with self._lock:
            run_id = self._current.get(workflow_id)
            span = self._runs.get((workflow_id, run_id)) if run_id is not None else None
        if span is not None:
            span.add_event("aion.stalled", {"aion.reason": reason})

    def released(self, workflow_id: str) -> None:
        """End the open span here: whoever adopts the workflow next opens its own."""
        with self._lock:
            run_id = self._current.pop(workflow_id, None)
            span = self._runs.pop((workflow_id, run_id), None) if run_id is not None else None
        if span is not None:
            span.set_attribute("aion.released", True)
            span.end()

    def attempt_started(self, info: ActivityInfo) -> EndAttempt:
        """Open an attempt's span under its run's; the returned callable ends it once."""
        with self._lock:
            parent = self._runs.get((info.workflow_id, info.run_id))
        context = self._trace.set_span_in_context(parent) if parent is not None else None
        span = self._tracer.start_span(
            f"aion.activity {info.activity}",
            context=context,
            attributes={
                "aion.workflow_id": info.workflow_id,
                "aion.run_id": info.run_id,
                "aion.activity": info.activity,
                "aion.ordinal": info.ordinal,
                "aion.attempt": info.attempt,
                "aion.idempotency_key": info.idempotency_key,
            },
        )
        ended = threading.Event()

        def end(ok: bool, error_type: str | None, message: str | None) -> None:
            if ended.is_set():
                return
            ended.set()
            if not ok:
                text = f"{error_type}: {message}"
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, text))
            span.end()

        return end
