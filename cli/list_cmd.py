"""``aion list``: workflows with status, type and times."""

from __future__ import annotations

import click

from aion import codec as _codec

from .app import App
from .options import common_options
from .output import workflows_table

STATUSES = ("running", "completed", "failed", "cancelled", "stalled", "continued_as_new")


@click.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only workflows with this status.")
@click.option("--type", "workflow_type", metavar="TYPE", help="Only workflows of this type.")
@common_options
@click.pass_obj
def list_(app: App, status: str | None, workflow_type: str | None) -> None:
    """List workflows, oldest first."""
    infos = app.backend().workflows(status, workflow_type)
    if app.as_json:
        app.echo_json([_codec.CONVERTER.unstructure(i) for i in infos])
    else:
        app.show(workflows_table(infos))
