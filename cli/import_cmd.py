"""``aion import``: load fixture files into the database as workflows."""

from __future__ import annotations

import click

from aion import fixtures

from .app import App
from .options import common_options


@click.command(name="import")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE.json...",
)
@click.option(
    "--id",
    "new_id",
    metavar="ID",
    help="Import under this id instead of the recorded one (one file only).",
)
@common_options
@click.pass_obj
def import_(app: App, files: tuple[str, ...], new_id: str | None) -> None:
    """Add the histories in FILE.json... to the database, exactly as recorded.

    A fixture exported with `aion export` and imported again exports to the
    same bytes. Imported workflows that had not finished are picked up by the
    next `aion worker` that opens the database.
    """
    if new_id is not None and len(files) != 1:
        app.fail(
            "--id renames one imported workflow, but several files were given.",
            "import them one at a time.",
        )
    loaded = [fixtures.load(path) for path in files]
    backend = app.backend(write=True)
    imported = []
    for fixture in loaded:
        workflow_id = new_id or fixture.workflow_id
        backend.import_history(workflow_id, fixture.events)
        imported.append(
            {"workflow_id": workflow_id, "events": len(fixture.events), "file": fixture.path}
        )
        if not app.as_json:
            app.show(f"imported {workflow_id} ({len(fixture.events)} events) from {fixture.path}")
    if app.as_json:
        app.echo_json(imported)
