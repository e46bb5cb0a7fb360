"""``aion cancel``: ask a running workflow to cancel."""

from __future__ import annotations

import click

from .app import App
from .options import common_options


@click.command(name="cancel")
@click.argument("workflow_id", metavar="ID")
@click.option("--reason", help="Recorded with the request and passed to aion.Cancelled.")
@common_options
@click.pass_obj
def cancel(app: App, workflow_id: str, reason: str | None) -> None:
    """Cancel workflow ID: aion.Cancelled is thrown in at its current yield.

    The workflow may catch it to compensate; if it does not, it ends cancelled
    and its children are cancelled too.
    """
    backend = app.backend(write=True)
    backend.cancel(workflow_id, reason)
    if app.as_json:
        app.echo_json(
            {"workflow_id": workflow_id, "cancel_requested": True, "queued": not backend.remote}
        )
    else:
        app.show(f"cancel requested for {workflow_id}")
    if not backend.remote and not backend.shared:
        app.note(f"no worker serves {app.db}: the workflow sees it when `aion worker` runs.")
