"""Options and argument parsing shared by several commands.

The options every user reaches for (``--db``, ``-m/--module``, ``--path``,
``--json``) are accepted both before and after the subcommand, on every
command, so ``aion --db x.duckdb list`` and ``aion list --db x.duckdb`` mean
the same and a shell alias such as ``alias aion='aion --db prod.duckdb -m app'``
works whatever the subcommand. Wherever given, they land in the one `App` of
the invocation (a later ``--db`` wins; ``-m`` and ``--path`` add up), and the
commands read them from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from .app import FORMATS, App

F = TypeVar("F", bound=Callable[..., Any])


def _app(ctx: click.Context) -> App:
    app = ctx.find_object(App)
    if app is None:  # pragma: no cover - the root group always makes one
        msg = "the aion command group did not create its App."
        raise RuntimeError(msg)
    return app


def _set_db(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        _app(ctx).db = value


def _add_modules(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    app = _app(ctx)
    app.modules = tuple(dict.fromkeys((*app.modules, *value)))


def _add_path(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    app = _app(ctx)
    app.import_path = tuple(dict.fromkeys((*app.import_path, *value)))


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _app(ctx).as_json = True


MODULE_HELP = "Import this module (dotted path or .py file) for workflow code; repeatable."
PATH_HELP = "Add DIR to the import path for workflow code (repeatable; also AION_PATH)."
JSON_HELP = "Print JSON for scripts."


def common_options(f: F) -> F:
    """``--db``, ``-m/--module``, ``--path`` and ``--json`` after the subcommand.

    They are stored on the `App` (not passed to the command), exactly as
    their twins before the subcommand are; see the module docstring.
    """
    decorators = (
        click.option(
            "--db",
            "_db",
            metavar="PATH|URL",
            expose_value=False,
            callback=_set_db,
            help="The aion database (also before the command; AION_DB).",
        ),
        click.option(
            "-m",
            "--module",
            "_modules",
            multiple=True,
            metavar="MODULE",
            expose_value=False,
            callback=_add_modules,
            help=MODULE_HELP,
        ),
        click.option(
            "--path",
            "_path",
            multiple=True,
            metavar="DIR",
            expose_value=False,
            callback=_add_path,
            help=PATH_HELP,
        ),
        click.option(
            "--json",
            "_json",
            is_flag=True,
            expose_value=False,
            callback=_set_json,
            help=JSON_HELP,
        ),
    )
    for decorate in reversed(decorators):
        f = decorate(f)
    return f


def _set_format(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        _app(ctx).fmt = value


def format_option(f: F) -> F:
    """``--format table|json|csv`` on a read command (``--json`` is ``--format json``)."""
    return click.option(
        "--format",
        "_format",
        type=click.Choice(FORMATS),
        expose_value=False,
        callback=_set_format,
        help="Output format (default table; --json is the same as --format json).",
    )(f)


def parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (``1299``, ``true``, ``{"a": 1}``), else the text.

    Accepting bare words keeps the common case short (``aion signal ID approve yes``)
    while JSON stays available for numbers, objects and quoted strings.
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_values(texts: Iterable[str]) -> list[Any]:
    """`parse_value` over each argument."""
    return [parse_value(t) for t in texts]
