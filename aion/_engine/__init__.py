"""The live engine: runs workflows on a store, recording before acting."""

from aion._engine._activities import (
    ActivityExecutor,
    ActivityInfo,
    Outcome,
    activity_info,
    run_attempt,
)
from aion._engine._engine import Engine
from aion._engine._futures import FuturesExecutor
from aion._engine._handle import WorkflowDescription, WorkflowHandle

__all__ = [
    "ActivityExecutor",
    "ActivityInfo",
    "Engine",
    "FuturesExecutor",
    "Outcome",
    "WorkflowDescription",
    "WorkflowHandle",
    "activity_info",
    "run_attempt",
]
