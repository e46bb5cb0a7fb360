"""``aion signal``: deliver a signal to a running workflow."""

from __future__ import annotations

import click

from .app import App
from .options import common_options, parse_value


@click.command(name="signal")
@click.argument("workflow_id", metavar="ID")
@click.argument("name")
@click.argument("payload", required=False, default="null")
@common_options
@click.pass_obj
def signal(app: App, workflow_id: str, name: str, payload: str) -> None:
    """Send signal NAME with PAYLOAD (a JSON value; default null) to workflow ID.

    The signal is recorded on arrival and buffered until the workflow's
    `receive_signal(NAME)` consumes it.
    """
    backend = app.backend(write=True)
    backend.signal(workflow_id, name, parse_value(payload))
    if app.as_json:
        app.echo_json(
            {
                "workflow_id": workflow_id,
                "signal": name,
                "recorded": True,
                "queued": not backend.remote,
            }
        )
    else:
        app.show(f"signal {name!r} recorded for {workflow_id}")
    if not backend.remote and not backend.shared:
        app.note(f"no worker serves {app.db}: the workflow sees it when `aion worker` runs.")
