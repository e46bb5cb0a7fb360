"""How aion words things for people: one-line events and workflow descriptions.

Divergence reports, `Engine.describe` and the CLI all go through these, so a
tool built on them reads the same as aion's own output. `describe_workflow`
builds the `aion.WorkflowDescription` of a workflow from its visibility
record (`aion.store.WorkflowInfo`) and the last event of its history, which is
how a reader with no engine running (the CLI on a database file) describes it.
"""

from typing import TYPE_CHECKING, Any

from aion._describe import event_line as event_line
from aion._describe import event_summary as event_summary

if TYPE_CHECKING:
    from aion._engine._handle import describe_workflow as describe_workflow


def __getattr__(name: str) -> Any:
    """`describe_workflow` lives with the engine: loaded on first use, not with the wording."""
    if name == "describe_workflow":
        from aion._engine._handle import describe_workflow

        return describe_workflow
    msg = f"module 'aion.describe' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = ["describe_workflow", "event_line", "event_summary"]
