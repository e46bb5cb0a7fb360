"""``aion terminate``: end workflows now, with no compensation, recording a reason."""

from __future__ import annotations

import click

from .app import App
from .control import act_on_many, confirm, select_targets, target_options
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
    targets = select_targets(app, workflow_ids, status, workflow_type, since, until, query)
    confirm(app, "terminate", targets, yes)
    backend = app.backend(write=True)
    if len(workflow_ids) == 1:
        workflow_id = targets[0]
        backend.terminate(workflow_id, reason)
        if app.as_json:
            app.echo_json(
                {
                    "workflow_id": workflow_id,
                    "terminate_requested": True,
                    "queued": not backend.remote,
                }
            )
        else:
            app.show(f"terminate requested for {workflow_id}")
    else:
        act_on_many(
            app, "terminate", targets, lambda w: backend.terminate(w, reason), not backend.remote
        )
    if not backend.remote and not backend.shared:
        app.note(f"no worker serves {app.db}: the workflow ends when `aion worker` runs.")
