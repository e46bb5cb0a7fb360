"""Options and argument parsing shared by several commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def module_option(f: F) -> F:
    """``-m/--module MODULE``, repeatable: where the workflow code lives."""
    return click.option(
        "-m",
        "--module",
        "modules",
        multiple=True,
        metavar="MODULE",
        help="Import this module (dotted path or .py file) for workflow code; repeatable.",
    )(f)


def json_option(f: F) -> F:
    """``--json``: machine-readable output for scripts."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


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
