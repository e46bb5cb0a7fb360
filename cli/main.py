"""The root ``aion`` group: global options, the command list, and ``main()``."""

from __future__ import annotations

from typing import Any

import click

from .app import App, default_db
from .cancel_cmd import cancel
from .db_cmd import db
from .debug_cmd import debug
from .describe_cmd import describe
from .export_cmd import export
from .import_cmd import import_
from .inspect_cmd import inspect_
from .list_cmd import list_
from .options import JSON_HELP, MODULE_HELP, PATH_HELP
from .query_cmd import query
from .replay_cmd import replay
from .run_cmd import run
from .signal_cmd import signal
from .start_cmd import start
from .worker_cmd import worker


class AionGroup(click.Group):
    """A click group that routes every escaping error through `App.handle_error`.

    click already handles its own usage errors (exit 2); everything else a
    command raises becomes one line, a hint and an exit code in one place.
    """

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
    debug: bool,
    color: bool | None,
) -> None:
    """Run, control, inspect, replay and debug aion workflows.

    Every command works next to a running `aion worker` on the same database
    (it talks to the worker over a loopback endpoint) or on the file alone.
    --db, -m, --path and --json work before or after the command.
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
    ctx.call_on_close(ctx.obj.close)


for command in (
    run,
    worker,
    start,
    signal,
    query,
    cancel,
    list_,
    describe,
    inspect_,
    replay,
    export,
    import_,
    debug,
    db,
):
    cli.add_command(command)
cli.add_command(__import__("cli.lint_cmd", fromlist=["lint"]).lint)  # the kit's lint


def main() -> None:  # pragma: no cover - the console-script entry point
    """Entry point of the ``aion`` console script."""
    cli(prog_name="aion")


if __name__ == "__main__":  # pragma: no cover
    main()
