"""``aion worker``: recover and serve a database until interrupted."""

from __future__ import annotations

import logging
import os
import signal as signals
import sys
import threading
from types import FrameType
from typing import Any

import click

import aion
from aion.endpoint import EndpointServer, check_endpoint_file, endpoint_file, read_endpoint
from aion.store import is_postgres_url

from .app import App
from .errors import EXIT_STORE, classify
from .loader import load, reload_code
from .options import common_options
from .safe import clean
from .serving import handlers


def refuse_if_served(app: App) -> None:
    """Stop early, and clearly, when another worker already serves this database.

    An endpoint file that is not one of the user's own (wrong owner or mode, a
    link) says nothing about a worker: it is reported and replaced, not obeyed.
    """
    reason = check_endpoint_file(app.db)
    if reason is not None:
        app.note(f"warning: replacing {endpoint_file(app.db)}: {reason}.")
        return
    endpoint = read_endpoint(app.db)
    if endpoint is not None:
        app.fail(
            f"a worker (pid {endpoint.pid}, 127.0.0.1:{endpoint.port}) already serves {app.db!r}.",
            "stop it first, or use the other commands: they talk to it.",
            EXIT_STORE,
        )


def install_stop_handlers(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM ask for a clean shutdown instead of killing mid-commit."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signals.signal(signals.SIGINT, handle)
    signals.signal(signals.SIGTERM, handle)


class _SafeFormatter(logging.Formatter):
    """Log lines with control characters shown escaped: ids and errors come from histories."""

    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record), newlines=True)


def _log_to_stderr(verbose: int) -> None:
    """``-v``: the ``aion`` logger's INFO records on stderr; ``-vv``: DEBUG too."""
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("aion")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


@click.command(name="worker")
@click.argument("modules", nargs=-1, metavar="[MODULE]...")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log workflow starts, ends, stalls and failed attempts to stderr (-vv: debug too).",
)
@common_options
@click.pass_obj
def worker(app: App, modules: tuple[str, ...], verbose: int) -> None:
    """Serve the database: recover unfinished workflows, run activities, fire timers.

    Registers every @aion.workflow and @aion.activity found in MODULE...
    (given as arguments, with -m MODULE, or both). With --json, a line
    describing the worker (db, pid, port, counts) is printed once it serves.
    While it runs on a DuckDB file, the other aion commands on the same --db
    talk to it over a loopback endpoint; on PostgreSQL they use the database
    directly, and any number of workers may serve it. Ctrl-C (or SIGTERM)
    stops it cleanly: everything committed stays committed, and the next
    worker continues from there.
    """
    names = tuple(dict.fromkeys((*app.modules, *modules)))
    if not names:
        app.fail(
            "the worker needs the workflow code, and no module was given.",
            "name it: aion worker -m myapp.flows (or aion worker myapp.flows).",
        )
    code = load(names, path=app.import_path)
    # On PostgreSQL every other command goes to the database itself, so the worker
    # publishes no endpoint there, and any number of workers may run on one machine.
    local = not is_postgres_url(app.db)
    if local:
        refuse_if_served(app)
    _log_to_stderr(verbose)
    engine = aion.Engine(
        app.db, workflows=code.workflows.values(), activities=code.activities.values()
    )
    stop = threading.Event()

    def reload() -> tuple[list[Any], list[Any]]:
        fresh = reload_code(code)
        return list(fresh.workflows.values()), list(fresh.activities.values())

    server = EndpointServer(app.db, handlers(engine, reload), classify=classify) if local else None
    try:
        install_stop_handlers(stop)
        if server is not None:
            server.start()
        open_count = len(engine.list(status="running"))
        port = server.port if server is not None else None
        if app.as_json:
            app.echo_json(
                {
                    "db": app.db,
                    "pid": os.getpid(),
                    "port": port,
                    "workflows": len(code.workflows),
                    "activities": len(code.activities),
                    "running": open_count,
                },
                line=True,
            )
        where = f"pid {os.getpid()}" + (f", 127.0.0.1:{port}" if port is not None else "")
        app.note(
            f"worker serving {app.db} ({where}): "
            f"{len(code.workflows)} workflow types, {len(code.activities)} activities, "
            f"{open_count} running workflows. Ctrl-C stops."
        )
        engine.serve(stop)
    finally:
        if server is not None:
            server.stop()
        engine.close()
    app.note("worker stopped cleanly.")
