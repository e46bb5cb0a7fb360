"""``aion terminate``: end workflows now, with no compensation, recording a reason."""

from __future__ import annotations

import click

from .app import App
from .control import request_end, target_options
from .options import common_options


@click.command(name="terminate")
@click.argument("workflow_ids", metavar="ID...", nargs=-1)
@click.option("--reason", help="Recorded in the workflow's history with its end.")
@target_options
@common_options
@click.pass_obj
def terminate(
    app: App,
    workflow_ids: tuple[str, ...],
    reason: str | None,
    status: str | None,
    workflow_type: str | None,
    since: str | None,
    until: str | None,
    yes: bool,
    query: str | None,
) -> None:
    """End workflow ID now: no aion.Cancelled, no compensation.

    The generator is closed where it waits, its pending activities and timers
    are abandoned, and it ends cancelled with a WorkflowCancelled event marked
    terminated (with --reason). Children follow their parent-close policy as
    on a cancel. Stalled workflows can be terminated too. Several IDs or the
    filters of `aion list`, or --query, terminate many (see `aion cancel`).
    """
    filters = {"status": status, "workflow_type": workflow_type, "since": since, "until": until}
    request_end(
        app,
        "terminate",
        workflow_ids,
        {**filters, "query": query},
        yes,
        lambda backend, workflow_id: backend.terminate(workflow_id, reason),
        "the workflow ends when `aion worker` runs.",
    )
