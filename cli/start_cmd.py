"""``aion start``: record a workflow start and return at once."""

from __future__ import annotations

import click

import aion
from aion.interpreter import argument_problem

from .app import App
from .loader import code_name, load_target
from .options import common_options, parse_values


@click.command(name="start")
@click.argument("target", metavar="MODULE:WORKFLOW")
@click.argument("args", nargs=-1)
@click.option("--id", "workflow_id", metavar="ID", help="The workflow id (default: a new UUID).")
@common_options
@click.pass_obj
def start(app: App, target: str, args: tuple[str, ...], workflow_id: str | None) -> None:
    """Start a workflow without waiting for it (ARGS are JSON values).

    With a worker running it starts at once; otherwise the start is recorded
    and the next `aion worker` on this database runs it. On PostgreSQL the
    start is recorded in the database and any worker of that type claims it.
    """
    _, fn = load_target(target, app.modules, path=app.import_path)
    name = fn.__aion_workflow__.name  # type: ignore[attr-defined]
    values = parse_values(args)
    problem = argument_problem(fn, values)
    if problem is not None:  # checked before anything is recorded, worker or not
        msg = f"cannot start workflow {name!r}: {problem}."
        raise aion.WorkflowArgumentError(msg)
    backend = app.backend(write=True)
    started = backend.start(name, values, workflow_id, code_name(fn), fn=fn)
    if app.as_json:
        app.echo_json({"workflow_id": started, "workflow": name, "queued": not backend.remote})
        return
    app.show(f"started {started} ({name})")
    if not backend.remote and not backend.shared:
        app.note(f"no worker serves {app.db}: it runs when `aion worker` opens this database.")
