"""``aion cancel``: ask running workflows to cancel (one, many, or those a filter selects)."""

from __future__ import annotations

import click

from .app import App
from .control import request_end, target_options
from .options import common_options


@click.command(name="cancel")
@click.argument("workflow_ids", metavar="ID...", nargs=-1)
@click.option("--reason", help="Recorded with the request and passed to aion.Cancelled.")
@target_options
@common_options
@click.pass_obj
def cancel(
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
    """Cancel workflow ID: aion.Cancelled is thrown in at its current yield.

    The workflow may catch it to compensate; if it does not, it ends cancelled
    and its children are cancelled too. Several IDs, or the filters of `aion
    list` (--status, --type, --since, --until; by default running and stalled
    workflows), or --query "status = 'running' AND workflow_type = 'order'" (a
    read-only SQL condition over the workflows), cancel many: each is reported
    as requested, already closed or not found, and more than one needs --yes
    (or a yes on a terminal).
    """
    filters = {"status": status, "workflow_type": workflow_type, "since": since, "until": until}
    request_end(
        app,
        "cancel",
        workflow_ids,
        {**filters, "query": query},
        yes,
        lambda backend, workflow_id: backend.cancel(workflow_id, reason),
        "the workflow sees it when `aion worker` runs.",
    )
