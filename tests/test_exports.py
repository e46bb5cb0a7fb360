"""Pins the public surface: adding or removing a name must be a deliberate change."""

import aion

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
