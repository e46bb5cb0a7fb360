"""How aion words things for people: one-line events and workflow descriptions.

Divergence reports, `Engine.describe` and the CLI all go through these, so a
tool built on them reads the same as aion's own output. `describe_workflow`
builds the `aion.WorkflowDescription` of a workflow from its visibility
record (`aion.store.WorkflowInfo`) and the last event of its history, which is
how a reader with no engine running (the CLI on a database file) describes it.
"""

from aion._describe import event_line as event_line
from aion._describe import event_summary as event_summary
from aion._engine._handle import describe_workflow as describe_workflow

__all__ = ["describe_workflow", "event_line", "event_summary"]
