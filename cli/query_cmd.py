"""``aion query``: ask a workflow's `on_query` handler; records nothing."""

from __future__ import annotations

import click

from aion import codec as _codec

from .app import App
from .loader import load
from .options import json_option, module_option, parse_values
from .output import value_text


@click.command(name="query")
@click.argument("workflow_id", metavar="ID")
@click.argument("name")
@click.argument("args", nargs=-1)
@module_option
@json_option
@click.pass_obj
def query(
    app: App,
    workflow_id: str,
    name: str,
    args: tuple[str, ...],
    modules: tuple[str, ...],
    as_json: bool,
) -> None:
    """Answer query NAME of workflow ID (ARGS are JSON values).

    A running worker answers from the live generator. Without one, the
    history is replayed under the code of -m MODULE and the rebuilt
    generator answers.
    """
    backend = app.backend()
    code = load(modules)
    value = _codec.to_jsonable(
        backend.query(workflow_id, name, parse_values(args), code), "the query result"
    )
    if as_json:
        app.echo_json(value)
    else:
        app.show(value_text(value))
