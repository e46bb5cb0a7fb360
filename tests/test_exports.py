"""Pins the public surface: adding or removing a name must be a deliberate change."""

import aion
import aion.codec
import aion.describe
import aion.endpoint
import aion.events
import aion.interpreter
import aion.lineage
import aion.otel

EXPECTED = [
    "ActivityDefinition",
    "ActivityError",
    "ActivityExecutor",
    "ActivityInfo",
    "ActivityTimeout",
    "AionError",
    "Cancelled",
    "ChildHandle",
    "ChildWorkflowError",
    "Client",
    "Clock",
    "CodecError",
    "Command",
    "ConfigurationError",
    "DuckDBStore",
    "Engine",
    "ForeignStoreError",
    "FuturesExecutor",
    "HistoryError",
    "InternalError",
    "ManualClock",
    "MemoryStore",
    "NondeterminismError",
    "NotPicklableError",
    "NotRegisteredError",
    "ParentClose",
    "QueryError",
    "ReplayResult",
    "ReplaySummary",
    "Replayer",
    "RetryPolicy",
    "SequenceConflict",
    "SignalDeliveryError",
    "StoreConflictError",
    "StoreCorruptedError",
    "StoreError",
    "StoreInvalidatedError",
    "StoreLockedError",
    "SystemClock",
    "Timeout",
    "WorkflowAlreadyExists",
    "WorkflowArgumentError",
    "WorkflowBlocked",
    "WorkflowCancelledError",
    "WorkflowClosed",
    "WorkflowDescription",
    "WorkflowFailedError",
    "WorkflowGen",
    "WorkflowHandle",
    "WorkflowNotFound",
    "WorkflowStalledError",
    "WorkflowYieldError",
    "activity",
    "activity_info",
    "await_child",
    "call",
    "collect_all",
    "collect_map",
    "collect_race",
    "continue_as_new",
    "now",
    "on_query",
    "patched",
    "random",
    "receive_signal",
    "replay",
    "run_attempt",
    "send_signal",
    "sleep",
    "start_child",
    "uuid4",
    "with_timeout",
    "workflow",
]


def test_all_is_pinned() -> None:
    assert aion.__all__ == EXPECTED


def test_every_name_resolves() -> None:
    for name in aion.__all__:
        assert getattr(aion, name) is not None, name


def test_errors_share_one_root_and_stdlib_bases() -> None:
    errors = [getattr(aion, n) for n in aion.__all__ if isinstance(getattr(aion, n), type)]
    for cls in errors:
        if issubclass(cls, Exception):
            assert issubclass(cls, aion.AionError), cls
    assert issubclass(aion.Timeout, TimeoutError)
    assert issubclass(aion.WorkflowNotFound, LookupError)
    assert issubclass(aion.WorkflowYieldError, TypeError)


# The public modules beside the facade: tools (the CLI first) build on these.
EVENTS_ALL = [
    "EVENT_TYPES",
    "FORMAT_VERSION",
    "TERMINAL_STATUSES",
    "ActivityCompleted",
    "ActivityFailed",
    "ActivityScheduled",
    "CancelRequested",
    "ChildAwaited",
    "ChildCompleted",
    "ChildFailed",
    "ChildStarted",
    "CommandCancelled",
    "CommandEvent",
    "ErrorInfo",
    "Event",
    "GroupStarted",
    "Origin",
    "PatchRecorded",
    "SignalAwaited",
    "SignalDelivered",
    "SignalDeliveryFailed",
    "SignalReceived",
    "SignalSent",
    "TimeoutStarted",
    "TimerFired",
    "TimerStarted",
    "WorkflowCancelled",
    "WorkflowCompleted",
    "WorkflowContinuedAsNew",
    "WorkflowFailed",
    "WorkflowResumed",
    "WorkflowStalled",
    "WorkflowStarted",
    "kind_of",
]


def test_events_all_is_pinned() -> None:
    assert aion.events.__all__ == EVENTS_ALL


def test_events_exports_every_class_history_can_hold() -> None:
    exported = {getattr(aion.events, n) for n in aion.events.__all__}
    assert set(aion.events.EVENT_TYPES) <= exported
    for cls in aion.events.EVENT_TYPES:
        assert cls.__name__ in aion.events.__all__
        assert issubclass(cls, aion.events.Event)


def test_tool_modules_are_pinned() -> None:
    assert aion.codec.__all__ == [
        "CONVERTER",
        "MAX_VALUE_DEPTH",
        "event_from_dict",
        "event_to_dict",
        "from_jsonable",
        "to_jsonable",
    ]
    assert aion.describe.__all__ == ["describe_workflow", "event_line", "event_summary"]
    assert aion.interpreter.__all__ == ["Interpreter", "Registry", "argument_problem"]
    assert aion.endpoint.__all__ == [
        "HOST",
        "IDLE_TIMEOUT",
        "MAX_BODY",
        "SECRET_HEADER",
        "Classify",
        "Endpoint",
        "EndpointClient",
        "EndpointError",
        "EndpointServer",
        "Handler",
        "RemoteError",
        "check_endpoint_file",
        "description_fields",
        "endpoint_file",
        "read_endpoint",
        "untrusted_reason",
        "workflow_infos",
    ]
    assert aion.otel.__all__ == ["Tracing"]
    assert aion.lineage.__all__ == [
        "ended_for_reset",
        "history_run",
        "rebuilt_run",
        "reset_events",
        "retry_point",
    ]
    modules = (
        aion.codec,
        aion.describe,
        aion.endpoint,
        aion.events,
        aion.interpreter,
        aion.lineage,
        aion.otel,
    )
    for module in modules:
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)


def test_every_package_is_in_the_distribution() -> None:
    """A package missing from pyproject's list works in an editable install and nowhere else."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    listed = set(
        tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(("aion", *p.parent.relative_to(root / "aion").parts))
        for p in (root / "aion").rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
    assert "aion_cli" in listed
