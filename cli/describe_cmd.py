"""``aion describe``: one workflow's status, why it is stalled, what it waits on."""

from __future__ import annotations

import click

from aion import codec as _codec

from .app import App
from .options import common_options, format_option
from .output import description
from .rows import description_rows


@click.command(name="describe")
@click.argument("workflow_id", metavar="ID")
@common_options
@format_option
@click.pass_obj
def describe(app: App, workflow_id: str) -> None:
    """Describe workflow ID: status, times, result or error, pending commands and timers."""
    desc = app.backend().describe(workflow_id)
    fmt = app.output_format()
    if fmt == "json":
        app.echo_json(_codec.CONVERTER.unstructure(desc))
    elif fmt == "csv":
        app.echo_csv(("field", "value"), description_rows(desc))
    else:
        app.show(description(desc))
