"""``aion export``: a workflow's history as a replay fixture (DESIGN section 8)."""

from __future__ import annotations

import click

import aion
from aion import fixtures
from aion.events import Event, WorkflowStarted

from .app import App
from .finding import recorded_names
from .loader import load
from .options import common_options


@click.command(name="export")
@click.argument("workflow_id", metavar="ID")
@click.option(
    "-o", "--output", required=True, metavar="FILE.json", help="Where to write ('-' for stdout)."
)
@common_options
@click.pass_obj
def export(app: App, workflow_id: str, output: str) -> None:
    """Write workflow ID's history as a versioned JSON fixture.

    The fixture names the module its history records (so `aion replay
    FILE.json` finds the code by itself). With -m MODULE it names that module
    and also records the outcome that replaying it under today's code gives,
    so the test suite (or `aion replay FILE.json`) can hold future code to it.
    """
    history: list[Event] = app.backend().history(workflow_id)
    expect = None
    recorded = recorded_names([history])
    module = recorded[0].partition(":")[0] if recorded else None
    if app.modules:
        code = load(app.modules, path=app.import_path)
        started = history[0]
        assert isinstance(started, WorkflowStarted)
        fn = code.workflow(started.name)
        module = fn.__module__
        result = aion.Replayer(code.workflows.values(), code.activities.values()).replay(
            history, workflow_id
        )
        expect = fixtures.expectation(result)
    data = fixtures.to_dict(workflow_id, history, expect=expect, module=module)
    if output == "-":
        click.echo(fixtures.dumps(data), nl=False)
        return
    fixtures.write(output, data)
    if app.as_json:
        app.echo_json({"workflow_id": workflow_id, "file": output, "events": len(history)})
    else:
        app.note(f"wrote {output} ({len(history)} events)")
