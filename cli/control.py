"""Cancel or terminate many workflows at once: ids, or ``aion list``'s filters.

``aion cancel`` and ``aion terminate`` share this. One id behaves as it always
did (an error for a closed or unknown workflow). Several ids, or a filter
(``--status``, ``--type``, ``--since``, ``--until``: the options of ``aion
list``, evaluated over the store's workflow list, so no text from the command
line ever becomes SQL), act on each target and report per id what happened:
requested, already closed, or not found. More than one target needs ``--yes``
or a confirmation on a terminal, since ending workflows cannot be undone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

import aion

from .app import App
from .errors import EXIT_USAGE, CliError
from .list_cmd import STATUSES
from .when import parse_when

F = TypeVar("F", bound=Callable[..., Any])

#: The states a closed workflow is in: a request for it is reported, not refused.
CLOSED = ("completed", "failed", "cancelled")


def target_options(f: F) -> F:
    """``--status/--type/--since/--until`` (as on ``aion list``) and ``--yes``."""
    options = [
        click.option("--yes", "-y", is_flag=True, help="Do not ask before acting on many."),
        click.option(
            "--until", metavar="WHEN", help="Only workflows started before WHEN (ISO or 30m)."
        ),
        click.option(
            "--since", metavar="WHEN", help="Only workflows started at or after WHEN (ISO or 2h)."
        ),
        click.option("--type", "workflow_type", metavar="TYPE", help="Only workflows of TYPE."),
        click.option(
            "--status",
            type=click.Choice(STATUSES),
            help="Only workflows with this status (default with a filter: running or stalled).",
        ),
    ]
    for option in options:
        f = option(f)
    return f


def select_targets(
    app: App,
    ids: Sequence[str],
    status: str | None,
    workflow_type: str | None,
    since: str | None,
    until: str | None,
) -> list[str]:
    """The workflow ids to act on: the ones named, or those the filters select."""
    filtered = any(v is not None for v in (status, workflow_type, since, until))
    if ids and filtered:
        msg = "give workflow ids or filters (--status/--type/--since/--until), not both."
        raise CliError(msg, "`aion list` with the same filters shows what they select.")
    if not ids and not filtered:
        msg = "no workflow given."
        raise CliError(msg, "name IDs, or select them with --status/--type.")
    if ids:
        return list(dict.fromkeys(ids))
    low = parse_when(since, option="--since") if since else None
    high = parse_when(until, option="--until") if until else None
    infos = app.backend().workflows(status, workflow_type)
    return [
        i.workflow_id
        for i in infos
        if (status is not None or i.status in ("running", "stalled"))
        and (low is None or i.started_at >= low)
        and (high is None or i.started_at < high)
    ]


def confirm(app: App, verb: str, targets: Sequence[str], yes: bool) -> None:
    """Ask before ending more than one workflow (refuse off a terminal without --yes)."""
    if len(targets) <= 1 or yes:
        return
    if not sys.stdin.isatty():
        msg = f"refusing to {verb} {len(targets)} workflows without --yes."
        raise CliError(msg, "check them with `aion list` and pass --yes.", EXIT_USAGE)
    shown = ", ".join(targets[:5]) + (f" and {len(targets) - 5} more" if len(targets) > 5 else "")
    if not click.confirm(f"{verb} {len(targets)} workflows ({shown})?", err=True):
        msg = "nothing done."
        raise CliError(msg, "", EXIT_USAGE)


def act_on_many(
    app: App, verb: str, targets: Sequence[str], act: Callable[[str], None], queued: bool
) -> None:
    """Run ``act`` on each target and report the outcome per id (exit 2 if any is unknown)."""
    requested: list[str] = []
    closed: list[str] = []
    missing: list[str] = []
    for workflow_id in targets:
        try:
            act(workflow_id)
        except aion.WorkflowClosed:
            closed.append(workflow_id)
        except aion.WorkflowNotFound:
            missing.append(workflow_id)
        else:
            requested.append(workflow_id)
    if app.as_json:
        app.echo_json(
            {
                "action": verb,
                "requested": requested,
                "already_closed": closed,
                "not_found": missing,
                "queued": queued,
            }
        )
    else:
        app.show(
            f"{verb} requested for {len(requested)} workflow(s)"
            + (f"; already closed: {', '.join(closed)}" if closed else "")
            + (f"; not found: {', '.join(missing)}" if missing else "")
        )
        if not targets:
            app.note("no workflow matches the filters.")
    if missing:
        raise click.exceptions.Exit(EXIT_USAGE)
