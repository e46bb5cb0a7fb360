"""`aion.otel.Tracing`: one span per workflow run and per activity attempt, never twice.

Spans go through a real OpenTelemetry SDK tracer provider into its in-memory
exporter (what a user's test would do), so names, parents, times and
statuses are the SDK's own.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import aion
import aion.otel

FLAKY_CALLS: list[int] = []


@aion.activity
def double(x: int) -> int:
    return 2 * x


@aion.activity(retry=aion.RetryPolicy(max_attempts=3, initial_interval=timedelta(0)))
def flaky(x: int) -> int:
    FLAKY_CALLS.append(x)
    if len(FLAKY_CALLS) == 1:
        raise RuntimeError("first attempt fails")
    return x + 1


@aion.workflow(name="otel.flow")
def flow(x: int) -> Any:
    a = yield aion.call(double, x)
    b = yield aion.call(flaky, a)
    extra = yield aion.receive_signal("go") if x < 0 else aion.call(double, 0)
    return [a, b, extra]


@aion.workflow(name="otel.waits")
def waits(x: int) -> Any:
    a = yield aion.call(double, x)
    go = yield aion.receive_signal("go")
    b = yield aion.call(double, go)
    return [a, b]


@aion.workflow(name="otel.fails")
def fails() -> Any:
    yield aion.call(double, 1)
    raise ValueError("the workflow gives up")


def _tracing() -> tuple[aion.otel.Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return aion.otel.Tracing(tracer_provider=provider), exporter


def _named(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def test_a_run_and_each_attempt_are_spans_under_one_trace(tmp_path: Path) -> None:
    FLAKY_CALLS.clear()
    tracing, exporter = _tracing()
    db = str(tmp_path / "t.duckdb")
    with aion.Engine(db, workflows=[flow], activities=[double, flaky], tracing=tracing) as engine:
        engine.start(flow, 5, workflow_id="o-1")
        assert engine.run_until_complete("o-1", timeout=30) == [10, 11, 0]
        started = engine.history("o-1")[0].recorded_at
    spans = exporter.get_finished_spans()
    (run,) = _named(spans, "aion.workflow")
    assert run.name == "aion.workflow otel.flow"
    assert run.attributes is not None
    assert run.attributes["aion.workflow_id"] == "o-1"
    assert run.attributes["aion.status"] == "completed"
    assert run.attributes["aion.recovered"] is False
    assert run.start_time == int(started.timestamp() * 1_000_000_000)  # the recorded start
    attempts = _named(spans, "aion.activity")
    assert [(s.name, (s.attributes or {})["aion.attempt"]) for s in attempts] == [
        ("aion.activity double", 1),
        ("aion.activity flaky", 1),
        ("aion.activity flaky", 2),
        ("aion.activity double", 1),
    ]
    assert [s.status.status_code for s in attempts] == [
        StatusCode.UNSET,
        StatusCode.ERROR,
        StatusCode.UNSET,
        StatusCode.UNSET,
    ]
    assert "RuntimeError" in (attempts[1].status.description or "")
    assert run.context is not None
    for span in attempts:
        assert span.parent is not None and span.parent.span_id == run.context.span_id
        assert span.context is not None and span.context.trace_id == run.context.trace_id


def test_a_failed_run_is_an_error_span(tmp_path: Path) -> None:
    tracing, exporter = _tracing()
    with aion.Engine(
        str(tmp_path / "f.duckdb"), workflows=[fails], activities=[double], tracing=tracing
    ) as engine:
        engine.start(fails, workflow_id="f-1")
        with pytest.raises(aion.WorkflowFailedError):
            engine.run_until_complete("f-1", timeout=30)
    (run,) = _named(exporter.get_finished_spans(), "aion.workflow")
    assert run.status.status_code is StatusCode.ERROR
    assert "the workflow gives up" in (run.status.description or "")
    assert (run.attributes or {})["aion.status"] == "failed"


def test_a_restarted_engine_reports_nothing_twice(tmp_path: Path) -> None:
    db = str(tmp_path / "r.duckdb")
    first, before = _tracing()
    with aion.Engine(db, workflows=[waits], activities=[double], tracing=first) as engine:
        engine.start(waits, 3, workflow_id="r-1")
        engine.run_until_idle()  # the first call is done; the run waits for "go"
    assert [s.name for s in before.get_finished_spans()] == ["aion.activity double"]
    second, after = _tracing()
    with aion.Engine(db, workflows=[waits], activities=[double], tracing=second) as engine:
        engine.signal("r-1", "go", 4)
        assert engine.run_until_complete("r-1", timeout=30) == [6, 8]
        started = engine.history("r-1")[0].recorded_at
    spans = after.get_finished_spans()
    attempts = _named(spans, "aion.activity")
    assert len(attempts) == 1  # the first call's outcome was replayed, not run or reported again
    (run,) = _named(spans, "aion.workflow")
    assert (run.attributes or {})["aion.recovered"] is True
    assert run.start_time == int(started.timestamp() * 1_000_000_000)


def test_tracing_without_opentelemetry_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if it were not installed
    with pytest.raises(aion.ConfigurationError, match=r"pip install 'aion\[otel\]'"):
        aion.otel.Tracing()
