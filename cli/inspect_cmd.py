"""``aion inspect``: a history as a timeline, as JSON, or as an HTML Gantt page."""

from __future__ import annotations

from pathlib import Path

import click

from aion import fixtures

from .app import App
from .gantt import gantt_html
from .options import common_options, format_option
from .rows import EVENT_HEADER, event_rows
from .sources import load_source
from .timeline import timeline


@click.command(name="inspect")
@click.argument("ref", metavar="ID|FILE.json")
@common_options
@format_option
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write a self-contained HTML page with a Gantt timeline.",
)
@click.pass_obj
def inspect_(app: App, ref: str, html_path: str | None) -> None:
    """Show the history of workflow ID (or a fixture file) as a timeline.

    Events are grouped by run with time, time since the run started, kind,
    ordinal, name, payload and the source line that yielded each command;
    then each command with its attempts and how long it took. --json prints
    the full history in the fixture format (which `aion import` reads);
    --format csv one row per event.
    """
    source = load_source(app, ref)
    if html_path is not None:
        Path(html_path).write_text(gantt_html(source.workflow_id, source.events), encoding="utf-8")
        app.note(f"wrote {html_path}")
        return
    fmt = app.output_format()
    if fmt == "json":
        app.echo_json(fixtures.to_dict(source.workflow_id, source.events))
        return
    if fmt == "csv":
        app.echo_csv(EVENT_HEADER, event_rows(source.events))
        return
    app.show(timeline(source.workflow_id, source.events))
