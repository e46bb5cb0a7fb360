"""``aion query``: ask a workflow's `on_query` handler; records nothing."""

from __future__ import annotations

import click

from aion import codec as _codec

from .app import App
from .finding import code_for, require_code
from .loader import Code
from .options import common_options, parse_values
from .output import value_text


@click.command(name="query")
@click.argument("workflow_id", metavar="ID")
@click.argument("name")
@click.argument("args", nargs=-1)
@common_options
@click.pass_obj
def query(
    app: App,
    workflow_id: str,
    name: str,
    args: tuple[str, ...],
) -> None:
    """Answer query NAME of workflow ID (ARGS are JSON values).

    A running worker answers from the live generator. Without one, the
    history is replayed under the code it records (or -m MODULE) and the
    rebuilt generator answers.
    """
    backend = app.backend()
    code = Code()
    if not backend.remote:  # no live generator: replay under the code the history names
        history = backend.history(workflow_id)
        origin = f"the history of {workflow_id!r}"
        code = require_code(code_for(app, [history], origin=origin), "answering a query offline")
    value = _codec.to_jsonable(
        backend.query(workflow_id, name, parse_values(args), code), "the query result"
    )
    if app.as_json:
        app.echo_json(value)
    else:
        app.show(value_text(value))
