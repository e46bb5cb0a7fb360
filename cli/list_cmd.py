"""``aion list``: workflows with status, type and times, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from aion import codec as _codec

from .app import App
from .options import common_options, format_option
from .rows import WORKFLOW_HEADER, workflow_cells, workflow_rows
from .when import parse_when

if TYPE_CHECKING:
    from rich.console import RenderableType

    from aion.store import WorkflowInfo

STATUSES = ("running", "completed", "failed", "cancelled", "stalled", "continued_as_new")
#: Rows shown unless --limit or --all says otherwise.
DEFAULT_LIMIT = 50


@click.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only workflows with this status.")
@click.option("--type", "workflow_type", metavar="TYPE", help="Only workflows of this type.")
@click.option(
    "--since", metavar="WHEN", help="Only workflows started at or after WHEN (ISO or 2h)."
)
@click.option("--until", metavar="WHEN", help="Only workflows started before WHEN (ISO or 30m).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="At most this many, newest first.",
)
@click.option("--all", "show_all", is_flag=True, help="Every matching workflow (no --limit).")
@common_options
@format_option
@click.pass_obj
def list_(
    app: App,
    status: str | None,
    workflow_type: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    show_all: bool,
) -> None:
    """List workflows, newest first."""
    low = parse_when(since, option="--since") if since else None
    high = parse_when(until, option="--until") if until else None
    infos = app.backend().workflows(status, workflow_type)
    if low is not None or high is not None:
        infos = [
            i
            for i in infos
            if (low is None or i.started_at >= low) and (high is None or i.started_at < high)
        ]
    # Oldest first from the store; newest first here, ties latest-recorded first.
    order = {id(info): n for n, info in enumerate(infos)}
    infos = sorted(infos, key=lambda i: (i.started_at, order[id(i)]), reverse=True)
    total = len(infos)
    if not show_all and total > limit:
        infos = infos[:limit]
        app.note(f"showing the newest {limit} of {total} workflows: --limit N or --all for more.")
    fmt = app.output_format()
    if fmt == "json":
        app.echo_json([_codec.CONVERTER.unstructure(i) for i in infos])
    elif fmt == "csv":
        app.echo_csv(WORKFLOW_HEADER, workflow_rows(infos))
    elif not infos:
        app.show("no workflows match.")
    else:
        headers, rows, right = workflow_cells(infos)
        app.show_rows(headers, rows, right=right, table=lambda: _table(infos))


def _table(infos: list[WorkflowInfo]) -> RenderableType:
    # rich is imported only for a terminal: piped, `aion list` prints plain text without it.
    from .output import workflows_table

    return workflows_table(infos)
