"""``aion reset``, ``aion fork``, ``aion retry`` and ``aion resume``: new runs from history.

Next to a running worker the worker does it and drives the new run at once
(for ``resume`` it first re-imports its modules, so fixed code on disk is
used without a restart). With no worker, ``reset``/``fork``/``retry`` write
the new run into the file and the next worker drives it; ``resume`` needs a
worker (any worker started with fixed code resumes stalled workflows).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

import aion
from aion.endpoint import RemoteError

from .app import App
from .errors import EXIT_USAGE, CliError
from .options import common_options


@contextmanager
def _usage() -> Iterator[None]:
    """A seq outside the history, or a retry of a run that did not fail: a usage error."""
    try:
        yield
    except aion.HistoryError as exc:
        raise CliError(str(exc), _HINT, EXIT_USAGE) from None
    except RemoteError as exc:  # the same, raised inside the worker
        if exc.type_name != "HistoryError":
            raise
        raise CliError(str(exc), _HINT, EXIT_USAGE) from None


_HINT = "`aion inspect ID` shows the seqs and how each run ended."


def _done(app: App, op: str, workflow_id: str, value: str, queued: bool) -> None:
    if app.as_json:
        key = {"fork": "new_id", "resume": "status"}.get(op, "run_id")
        app.echo_json({"op": op, "workflow_id": workflow_id, key: value, "queued": queued})
    elif op == "fork":
        app.show(f"forked {workflow_id} as {value}")
    elif op == "resume":
        app.show(f"{workflow_id} is {value}")
    else:
        app.show(f"{workflow_id}: new run {value}")
    if queued:
        app.note(f"no worker serves {app.db}: the new run starts when `aion worker` runs.")


@click.command(name="reset")
@click.argument("workflow_id", metavar="ID")
@click.option("--to", "seq", type=click.IntRange(min=1), required=True, metavar="SEQ")
@common_options
@click.pass_obj
def reset(app: App, workflow_id: str, seq: int) -> None:
    """Start a new run of ID from its history up to SEQ; the old run is kept.

    Recorded outcomes up to SEQ are reused (nothing before it runs again),
    the rest is re-executed under today's code. An open run is ended first
    (terminated). `aion inspect ID` shows both runs.
    """
    backend = app.backend(write=True)
    with _usage():
        run_id = backend.rerun("reset", workflow_id, seq, None)
    _done(app, "reset", workflow_id, run_id, not backend.remote)


@click.command(name="fork")
@click.argument("workflow_id", metavar="ID")
@click.option("--at", "seq", type=click.IntRange(min=1), required=True, metavar="SEQ")
@click.option("--id", "new_id", metavar="NEW", help="The new workflow's id (default: ID-fork-…).")
@common_options
@click.pass_obj
def fork(app: App, workflow_id: str, seq: int, new_id: str | None) -> None:
    """Start a new workflow from ID's history up to SEQ; ID itself is untouched.

    The fork's history up to SEQ is ID's (same commands, same outcomes, same
    deterministic draws); after it the fork runs live.
    """
    backend = app.backend(write=True)
    target = new_id
    if target is None:
        import uuid

        target = f"{workflow_id}-fork-{uuid.uuid4().hex[:8]}"
    with _usage():
        made = backend.rerun("fork", workflow_id, seq, target)
    _done(app, "fork", workflow_id, made, not backend.remote)


@click.command(name="retry")
@click.argument("workflow_id", metavar="ID")
@common_options
@click.pass_obj
def retry(app: App, workflow_id: str) -> None:
    """Retry failed workflow ID: a new run from just before it failed.

    If an activity's last attempt failed, the new run attempts it again with
    its whole retry budget (everything before it is reused); if the workflow
    code raised, the code runs on from there (deploy the fix first).
    """
    backend = app.backend(write=True)
    with _usage():
        run_id = backend.rerun("retry", workflow_id, None, None)
    _done(app, "retry", workflow_id, run_id, not backend.remote)


@click.command(name="resume")
@click.argument("workflow_id", metavar="ID")
@common_options
@click.pass_obj
def resume(app: App, workflow_id: str) -> None:
    """Resume stalled workflow ID under the running worker, with its code re-imported.

    The worker reloads its modules and replays the workflow: if the fixed
    code matches the history it continues (exit 0), else it stays stalled
    (exit 1; `aion describe ID` says why).
    """
    backend = app.backend(write=True)
    status = backend.rerun("resume", workflow_id, None, None)
    _done(app, "resume", workflow_id, status, False)
    if status == "stalled":
        raise click.exceptions.Exit(1)
