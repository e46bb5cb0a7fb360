"""``aion list``: workflows with status, type and times."""

from __future__ import annotations

import click

from aion import codec as _codec

from .app import App
from .options import common_options, format_option
from .output import workflows_table
from .rows import WORKFLOW_HEADER, workflow_rows

STATUSES = ("running", "completed", "failed", "cancelled", "stalled", "continued_as_new")


@click.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only workflows with this status.")
@click.option("--type", "workflow_type", metavar="TYPE", help="Only workflows of this type.")
@common_options
@format_option
@click.pass_obj
def list_(app: App, status: str | None, workflow_type: str | None) -> None:
    """List workflows, oldest first."""
    infos = app.backend().workflows(status, workflow_type)
    fmt = app.output_format()
    if fmt == "json":
        app.echo_json([_codec.CONVERTER.unstructure(i) for i in infos])
    elif fmt == "csv":
        app.echo_csv(WORKFLOW_HEADER, workflow_rows(infos))
    else:
        app.show_table(workflows_table(infos))
