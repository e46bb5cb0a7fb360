"""``aion query``: ask a workflow's `on_query` handler; records nothing."""

from __future__ import annotations

import json
from typing import Any

import click

from aion import codec as _codec

from .app import App
from .finding import code_for, require_code
from .loader import Code
from .options import common_options, format_option, parse_values
from .output import value_text


@click.command(name="query")
@click.argument("workflow_id", metavar="ID")
@click.argument("name")
@click.argument("args", nargs=-1)
@common_options
@format_option
@click.pass_obj
def query(
    app: App,
    workflow_id: str,
    name: str,
    args: tuple[str, ...],
) -> None:
    """Answer query NAME of workflow ID (ARGS are JSON values); --format csv for tables.

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
    fmt = app.output_format()
    if fmt == "json":
        app.echo_json(value)
    elif fmt == "csv":
        app.echo_csv(*csv_table(value))
    else:
        app.show(value_text(value))


def csv_table(value: Any) -> tuple[list[str], list[list[Any]]]:
    """A query result as CSV: a list of objects is one row each, anything else is rows of values.

    Objects' keys become the header (in first-seen order); nested values and
    the values of a plain list or a single value are written as JSON text, so
    every cell reads back with the same JSON parser.
    """
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        header = list(dict.fromkeys(k for row in value for k in row))
        return header, [[_cell(row.get(k)) for k in header] for row in value]
    if isinstance(value, dict):
        return ["key", "value"], [[k, _cell(v)] for k, v in value.items()]
    items = value if isinstance(value, list) else [value]
    return ["value"], [[_cell(v)] for v in items]


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
