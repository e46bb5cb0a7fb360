"""The live engine: runs workflows on a store, recording before acting."""

from aion._engine._activities import ActivityInfo, activity_info
from aion._engine._engine import Engine
from aion._engine._handle import WorkflowDescription, WorkflowHandle

__all__ = ["ActivityInfo", "Engine", "WorkflowDescription", "WorkflowHandle", "activity_info"]
