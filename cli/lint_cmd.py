"""``aion lint PATH...``: the determinism kit's static lint, from the command line."""

from __future__ import annotations

import click

from .app import App
from .errors import EXIT_FAILED
from .options import common_options


@click.command(name="lint")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@common_options
@click.pass_obj
def lint(app: App, paths: tuple[str, ...]) -> None:
    """Flag nondeterminism in @aion.workflow code (exit 1 when anything is found)."""
    from aion.testing.lint import lint_paths

    try:
        findings = lint_paths(paths)
    except FileNotFoundError as exc:
        app.fail(str(exc), "give a .py file or a directory holding some.")
    except SyntaxError as exc:
        app.fail(f"{exc.filename}:{exc.lineno}: cannot parse: {exc.msg}.", "fix the syntax first.")
    if app.as_json:
        app.echo_json(
            [
                {"path": f.path, "line": f.line, "col": f.col, "code": f.code, "message": f.message}
                for f in findings
            ]
        )
    else:
        for f in findings:
            click.echo(str(f))
        click.echo(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}.", err=True)
    if findings:
        raise SystemExit(EXIT_FAILED)
