"""The root ``aion`` group: global options, the command list, and ``main()``."""

from __future__ import annotations

import importlib
from typing import Any

import click

from .app import App, default_db
from .options import JSON_HELP, MODULE_HELP, PATH_HELP

#: Every command: name -> (module, attribute, one-line help). Commands are
#: imported only when run (or asked for their own --help), so ``aion --help``
#: costs click alone, and ``aion list`` never imports the engine's runner,
#: the debugger or the HTML page. tests/cli/test_startup.py keeps the help
#: lines here equal to the commands' own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "run_cmd",
        "run",
        "Start a workflow and run it to completion with a live view (ARGS are JSON values).",
    ),
    "worker": (
        "worker_cmd",
        "worker",
        "Serve the database: recover unfinished workflows, run activities, fire timers.",
    ),
    "start": (
        "start_cmd",
        "start",
        "Start a workflow without waiting for it (ARGS are JSON values).",
    ),
    "signal": (
        "signal_cmd",
        "signal",
        "Send signal NAME with PAYLOAD (a JSON value; default null) to workflow ID.",
    ),
    "query": (
        "query_cmd",
        "query",
        "Answer query NAME of workflow ID (ARGS are JSON values); --format csv for tables.",
    ),
    "cancel": (
        "cancel_cmd",
        "cancel",
        "Cancel workflow ID: aion.Cancelled is thrown in at its current yield.",
    ),
    "terminate": (
        "terminate_cmd",
        "terminate",
        "End workflow ID now: no aion.Cancelled, no compensation.",
    ),
    "reset": (
        "rerun_cmd",
        "reset",
        "Start a new run of ID from its history up to SEQ; the old run is kept.",
    ),
    "fork": (
        "rerun_cmd",
        "fork",
        "Start a new workflow from ID's history up to SEQ; ID itself is untouched.",
    ),
    "retry": (
        "rerun_cmd",
        "retry",
        "Retry failed workflow ID: a new run from just before it failed.",
    ),
    "resume": (
        "rerun_cmd",
        "resume",
        "Resume stalled workflow ID under the running worker, with its code re-imported.",
    ),
    "list": ("list_cmd", "list_", "List workflows, newest first."),
    "describe": (
        "describe_cmd",
        "describe",
        "Describe workflow ID: status, times, result or error, pending commands and timers.",
    ),
    "inspect": (
        "inspect_cmd",
        "inspect_",
        "Show the history of workflow ID (or a fixture file) as a timeline.",
    ),
    "replay": (
        "replay_cmd",
        "replay",
        "Replay histories against today's code, executing nothing for real.",
    ),
    "export": ("export_cmd", "export", "Write workflow ID's history as a versioned JSON fixture."),
    "import": (
        "import_cmd",
        "import_",
        "Add the histories in FILE.json... to the database, exactly as recorded.",
    ),
    "debug": (
        "debug_cmd",
        "debug",
        "Step through a recorded run of workflow ID (or a fixture) against its code.",
    ),
    "sql": (
        "sql_cmd",
        "sql",
        "Run one read-only SELECT over the history (tables: events, workflows, aion_meta).",
    ),
    "db": ("db_cmd", "db", "Manage the aion database itself."),
    "lint": (
        "lint_cmd",
        "lint",
        "Flag nondeterminism in @aion.workflow code (exit 1 when anything is found).",
    ),
}


class AionGroup(click.Group):
    """A click group that routes every escaping error through `App.handle_error`.

    click already handles its own usage errors (exit 2); everything else a
    command raises becomes one line, a hint and an exit code in one place.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, in the order of `COMMANDS` (the order of the help page)."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the command's module only now, when it is about to run."""
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(f"{__package__}.{entry[0]}")
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from `COMMANDS`, without importing a single command."""
        rows = [(name, help_line) for name, (_m, _a, help_line) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report its errors as the CLI contract says."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None
        except Exception as exc:
            app = ctx.find_object(App)
            if app is None:
                raise
            app.handle_error(exc)


@click.group(cls=AionGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default=default_db,
    show_default="AION_DB or ./aion.duckdb",
    metavar="PATH",
    help="The aion database file.",
)
@click.option("-m", "--module", "modules", multiple=True, metavar="MODULE", help=MODULE_HELP)
@click.option("--path", "import_path", multiple=True, metavar="DIR", help=PATH_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json", "csv")),
    default=None,
    help="Output format of read commands (default table; --json is --format json).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--color/--no-color", default=None, help="Force colour on or off (default: only on a terminal)."
)
@click.version_option(package_name="aion", prog_name="aion")
@click.pass_context
def cli(
    ctx: click.Context,
    db: str,
    modules: tuple[str, ...],
    import_path: tuple[str, ...],
    as_json: bool,
    fmt: str | None,
    debug: bool,
    color: bool | None,
) -> None:
    """Run, control, inspect, replay and debug aion workflows.

    Every command works next to a running `aion worker` on the same database
    (it talks to the worker over a loopback endpoint) or on the file alone.
    --db, -m, --path, --json and --format work before or after the command.
    Exit codes: 0 ok, 1 divergence or failed workflow, 2 usage, 3 store error.
    """
    if ctx.obj is None:
        ctx.obj = App(
            db,
            debug=debug,
            color=color,
            modules=modules,
            import_path=import_path,
            as_json=as_json,
        )
        ctx.obj.fmt = fmt
    ctx.call_on_close(ctx.obj.close)


def main() -> None:  # pragma: no cover - the console-script entry point
    """Entry point of the ``aion`` console script."""
    cli(prog_name="aion")


if __name__ == "__main__":  # pragma: no cover
    main()
