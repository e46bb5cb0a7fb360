"""``aion run``: start a workflow, watch it live, print its result."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.panel import Panel

import aion
from aion import codec as _codec
from aion.describe import event_line
from aion.endpoint import EndpointServer, read_endpoint
from aion.events import TERMINAL_STATUSES
from aion.store import is_postgres_url

from .app import App
from .backend import Backend
from .errors import classify
from .loader import load_target
from .options import common_options, parse_values
from .output import status_text, value_text
from .safe import data
from .serving import handlers
from .timeline import fmt_duration
from .worker_cmd import install_stop_handlers

POLL = 0.1
DONE = (*TERMINAL_STATUSES, "stalled")


def live_view(desc: aion.WorkflowDescription, last: str, elapsed: float) -> RenderableType:
    """What `aion run` shows while the workflow runs: status, current step, pending, elapsed."""
    head = data(f"{desc.workflow_id} ({desc.workflow_type}) ")
    head.append_text(status_text(desc.status))
    head.append(
        f"  ·  {desc.last_seq} events  ·  {fmt_duration(timedelta(seconds=elapsed))} elapsed"
    )
    lines: list[RenderableType] = [head, data(f"last: {last}", style="dim")]
    lines.extend(data(f"waiting on {p}") for p in desc.pending)
    return Panel(Group(*lines), title="aion run", title_align="left")


def _watch(
    app: App,
    workflow_id: str,
    describe: Callable[[], aion.WorkflowDescription],
    last_event: Callable[[], str],
    stop: threading.Event,
) -> aion.WorkflowDescription:
    began = time.monotonic()
    desc = describe()
    live = (
        Live(console=app.err, transient=True, refresh_per_second=8) if app.err.is_terminal else None
    )
    try:
        if live is not None:
            live.start()
        while desc.status not in DONE and not stop.is_set():
            if live is not None:
                live.update(live_view(desc, last_event(), time.monotonic() - began))
            time.sleep(POLL)
            desc = describe()
    finally:
        if live is not None:
            live.stop()
    return desc


def _report(
    app: App, desc: aion.WorkflowDescription, result: Any, as_json: bool, took: float
) -> None:
    if desc.status == "completed":
        value = _codec.to_jsonable(result, "the workflow result")
        if as_json:
            app.echo_json({"workflow_id": desc.workflow_id, "status": desc.status, "result": value})
        else:
            app.show(value_text(value))
        app.note(
            f"{desc.workflow_id} completed in {fmt_duration(timedelta(seconds=took))} "
            f"({desc.last_seq} events)"
        )
        return
    if desc.status == "failed":
        msg = f"workflow {desc.workflow_id!r} failed: {desc.error}."
        raise aion.WorkflowFailedError(
            msg,
            workflow_id=desc.workflow_id,
            error_type=(desc.error or "").split(":")[0],
            error_message=desc.error or "",
            traceback="",
        )
    if desc.status == "stalled":
        msg = f"workflow {desc.workflow_id!r} is stalled: {desc.stalled_reason}"
        raise aion.WorkflowStalledError(msg)
    msg = f"workflow {desc.workflow_id!r} ended {desc.status}."
    raise aion.WorkflowCancelledError(msg)


def _run_remote(
    app: App, backend: Backend, name: str, args: list[Any], workflow_id: str | None, as_json: bool
) -> None:
    began = time.monotonic()
    started = backend.start(name, args, workflow_id)
    app.note(f"started {started} on the running worker")
    stop = threading.Event()

    def last() -> str:
        return event_line(backend.history(started)[-1])

    desc = _watch(app, started, lambda: backend.describe(started), last, stop)
    _report(app, desc, desc.result, as_json, time.monotonic() - began)


@click.command(name="run")
@click.argument("target", metavar="MODULE:WORKFLOW")
@click.argument("args", nargs=-1)
@click.option("--id", "workflow_id", metavar="ID", help="The workflow id (default: a new UUID).")
@common_options
@click.pass_obj
def run(
    app: App,
    target: str,
    args: tuple[str, ...],
    workflow_id: str | None,
) -> None:
    """Start a workflow and run it to completion with a live view (ARGS are JSON values).

    Runs an engine in this process (other aion commands can talk to it while
    it runs), or hands the workflow to the worker already serving --db.
    Prints the result; exits 1 if the workflow fails.
    """
    as_json = app.as_json
    code, fn = load_target(target, app.modules, path=app.import_path)
    name = fn.__aion_workflow__.name  # type: ignore[attr-defined]
    values = parse_values(args)
    local = not is_postgres_url(app.db)  # on PostgreSQL no endpoint: commands use the database
    if local and read_endpoint(app.db) is not None:
        _run_remote(app, app.backend(write=True), name, values, workflow_id, as_json)
        return
    began = time.monotonic()
    engine = aion.Engine(
        app.db, workflows=code.workflows.values(), activities=code.activities.values()
    )
    stop = threading.Event()
    server = EndpointServer(app.db, handlers(engine), classify=classify) if local else None
    serving = threading.Thread(target=engine.serve, args=(stop,), name="aion-run", daemon=True)
    try:
        install_stop_handlers(stop)
        handle = engine.start(fn, *values, workflow_id=workflow_id)
        if server is not None:
            server.start()
        serving.start()

        def last() -> str:
            return event_line(engine.history(handle.id)[-1])

        desc = _watch(app, handle.id, lambda: engine.describe(handle.id), last, stop)
        if desc.status not in DONE:
            app.note(
                f"interrupted: {handle.id} is durable and continues when a worker serves {app.db}."
            )
            raise click.exceptions.Exit(130)
        result = engine.run_until_complete(handle.id) if desc.status == "completed" else None
    finally:
        stop.set()
        if serving.is_alive():
            serving.join()
        if server is not None:
            server.stop()
        engine.close()
    _report(app, desc, result, as_json, time.monotonic() - began)
