"""``aion inspect``: a history as a timeline, as JSON, or as an HTML Gantt page."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from aion import fixtures
from aion.describe import event_line
from aion.events import TERMINAL_STATUSES, Event

from .app import App
from .gantt import gantt_html
from .options import common_options, format_option
from .rows import EVENT_HEADER, event_rows
from .safe import data
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
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Print each event as it is recorded, until the workflow ends (or Ctrl-C).",
)
@click.pass_obj
def inspect_(app: App, ref: str, html_path: str | None, follow: bool) -> None:
    """Show the history of workflow ID (or a fixture file) as a timeline.

    Events are grouped by run with time, time since the run started, kind,
    ordinal, name, payload and the source line that yielded each command;
    then each command with its attempts and how long it took. --json prints
    the full history in the fixture format (which `aion import` reads);
    --format csv one row per event. --follow prints each event as one line
    (one JSON object a line with --json) as it is recorded, until the
    workflow completes, fails or is cancelled.
    """
    if follow:
        follow_history(app, ref)
        return
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


#: Seconds between two looks at a followed history.
FOLLOW_POLL = 0.2


def follow_history(app: App, workflow_id: str, *, poll: float = FOLLOW_POLL) -> None:
    """Print workflow ``workflow_id``'s events as they are recorded, until it ends.

    Each look opens the database afresh, so a worker started meanwhile is
    found (its endpoint) rather than locked out by a handle kept open here.
    Ends when the workflow is completed, failed or cancelled (exit 0); a
    stalled one is followed on, since fixed code may resume it; Ctrl-C stops.
    """
    shown = 0
    while True:
        events = app.backend().history(workflow_id)
        status = app.backend().describe(workflow_id).status
        app.close()
        for event in events[shown:]:
            _print_event(app, event)
        shown = max(shown, len(events))
        if status in TERMINAL_STATUSES:
            return
        time.sleep(poll)


def _print_event(app: App, event: Event) -> None:
    if app.as_json:
        from aion import codec

        app.echo_json(codec.event_to_dict(event), line=True)
        return
    stamp = event.recorded_at.strftime("%H:%M:%S.%f")[:-3]
    app.show(data(f"{stamp}  {event_line(event)}"))
    sys.stdout.flush()
