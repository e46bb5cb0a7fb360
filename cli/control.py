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
            "--query",
            "query",
            metavar="Q",
            help="A read-only SQL condition over workflow_id, run_id, workflow_type, status, "
            "started_at, last_seq (e.g. \"status = 'running' AND workflow_type = 'order'\").",
        ),
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


#: The columns ``--query`` sees, the same on both stores (DuckDB derives ``status``).
_DUCKDB_PROJECTION = """SELECT workflow_id, run_id, workflow_type, started_at, last_seq,
    CASE last_lifecycle
        WHEN 'WorkflowStalled' THEN 'stalled' WHEN 'WorkflowCompleted' THEN 'completed'
        WHEN 'WorkflowFailed' THEN 'failed' WHEN 'WorkflowCancelled' THEN 'cancelled'
        WHEN 'WorkflowContinuedAsNew' THEN 'continued_as_new' ELSE 'running' END AS status
    FROM workflows"""
_POSTGRES_PROJECTION = (
    "SELECT workflow_id, run_id, workflow_type, status, started_at, last_seq FROM workflows"
)
#: At most this many workflows are selected by one --query.
QUERY_LIMIT = 100_000


def query_ids(app: App, condition: str) -> list[str]:
    """The workflow ids a ``--query`` condition selects, through ``aion sql``'s machinery.

    The condition is placed in one SELECT run by the read-only path of
    ``aion sql`` (a READ ONLY transaction, rolled back; exactly one SELECT
    statement, so nothing after a ``;`` runs): it can only choose rows, and
    every id it returns is still checked by the cancel or terminate itself.
    """
    from aion.store import is_postgres_url

    from .sql_cmd import HINT, postgres_sql

    postgres = is_postgres_url(app.db)
    projection = _POSTGRES_PROJECTION if postgres else _DUCKDB_PROJECTION
    sql = f"SELECT workflow_id FROM ({projection}) AS w WHERE ({condition}) ORDER BY workflow_id"
    if postgres:
        _columns, rows, _cut = postgres_sql(app.db, sql, QUERY_LIMIT)
    else:
        try:
            _columns, rows, _cut = app.backend().sql(sql, QUERY_LIMIT)
        except aion.ConfigurationError as exc:
            msg = f"--query: {exc}"
            raise CliError(msg, HINT, EXIT_USAGE) from None
    return [str(row[0]) for row in rows]


def select_targets(
    app: App,
    ids: Sequence[str],
    status: str | None,
    workflow_type: str | None,
    since: str | None,
    until: str | None,
    query: str | None = None,
) -> list[str]:
    """The workflow ids to act on: the ones named, or those the filters select."""
    filtered = any(v is not None for v in (status, workflow_type, since, until, query))
    if ids and filtered:
        msg = "give workflow ids or filters (--query/--status/--type/--since/--until), not both."
        raise CliError(msg, "`aion list` with the same filters shows what they select.")
    if not ids and not filtered:
        msg = "no workflow given."
        raise CliError(msg, "name IDs, or select them with --status/--type.")
    if ids:
        return list(dict.fromkeys(ids))
    low = parse_when(since, option="--since") if since else None
    high = parse_when(until, option="--until") if until else None
    chosen = set(query_ids(app, query)) if query is not None else None
    infos = app.backend().workflows(status, workflow_type)
    return [
        i.workflow_id
        for i in infos
        if (chosen is None or i.workflow_id in chosen)
        and (status is not None or chosen is not None or i.status in ("running", "stalled"))
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
    from aion.endpoint import RemoteError

    for workflow_id in targets:
        try:
            act(workflow_id)
        except aion.WorkflowClosed:
            closed.append(workflow_id)
        except aion.WorkflowNotFound:
            missing.append(workflow_id)
        except RemoteError as exc:  # the same two, raised inside the worker
            if exc.type_name == "WorkflowClosed":
                closed.append(workflow_id)
            elif exc.type_name == "WorkflowNotFound":
                missing.append(workflow_id)
            else:
                raise
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


def request_end(
    app: App,
    verb: str,
    workflow_ids: Sequence[str],
    filters: dict[str, Any],
    yes: bool,
    act: Callable[[Any, str], None],
    later: str,
) -> None:
    """What ``aion cancel`` and ``aion terminate`` do, ``act(backend, id)`` being the request.

    ``filters`` are `select_targets`' keyword arguments. One id is one
    request (an error for a closed or unknown workflow, as always); several,
    or a filter, act on each and report per id. With no worker to take the
    request, ``later`` says when it takes effect.
    """
    targets = select_targets(app, workflow_ids, **filters)
    confirm(app, verb, targets, yes)
    backend = app.backend(write=True)
    queued = not backend.remote
    if len(workflow_ids) == 1:
        workflow_id = targets[0]
        act(backend, workflow_id)
        if app.as_json:
            app.echo_json({"workflow_id": workflow_id, f"{verb}_requested": True, "queued": queued})
        else:
            app.show(f"{verb} requested for {workflow_id}")
    else:
        act_on_many(app, verb, targets, lambda w: act(backend, w), queued)
    if not backend.remote and not backend.shared:
        app.note(f"no worker serves {app.db}: {later}")
