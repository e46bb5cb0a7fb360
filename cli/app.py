"""`App`: what every command shares, and the one place errors become exit codes.

Commands receive the `App` through ``@click.pass_obj``. It owns the two rich
consoles (results on stdout, diagnostics on stderr), knows which database the
user means, opens the right `Backend` for it (the running worker's loopback
endpoint, or the file itself), and turns any exception a command lets escape
into one clear line, a hint and an exit code (the codes and the
classification live in `errors`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .errors import EXIT_USAGE, CliError, classify
from .safe import clean

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from .backend import Backend


FORMATS = ("table", "json", "csv")


def _make_console(*, stderr: bool, color: bool | None) -> Console:
    # Colour only on a terminal unless asked: rich decides when color is None,
    # and then honours NO_COLOR (and FORCE_COLOR) from the environment.
    from rich.console import Console

    return Console(
        stderr=stderr,
        force_terminal=color,
        no_color=True if color is False else None,
        highlight=False,
        soft_wrap=stderr,  # an error stays one line, whatever the width
    )


class App:
    """Shared state of one CLI invocation.

    Args:
        db: The database path (``--db``, ``AION_DB`` or ``./aion.duckdb``).
        debug: Show tracebacks instead of one-line errors.
        color: Force colour on (True) or off (False); None means "only on a TTY".
        modules: ``-m`` modules given before the subcommand (later ones are added).
        import_path: ``--path`` directories given before the subcommand.
        as_json: ``--json`` given before the subcommand.
    """

    def __init__(
        self,
        db: str,
        *,
        debug: bool = False,
        color: bool | None = None,
        modules: tuple[str, ...] = (),
        import_path: tuple[str, ...] = (),
        as_json: bool = False,
    ) -> None:
        self.db = db
        self.debug = debug
        self.modules = modules
        self.import_path = import_path
        self.as_json = as_json
        self.fmt: str | None = None
        self.color = color
        self._out: Console | None = None
        self._err: Console | None = None
        self._backend: Backend | None = None

    # --- output ---------------------------------------------------------------------

    @property
    def out(self) -> Console:
        """The console for results (stdout), made on first use: rich loads only when printing."""
        if self._out is None:
            self._out = _make_console(stderr=False, color=self.color)
        return self._out

    @property
    def err(self) -> Console:
        """The console for diagnostics (stderr), made on first use."""
        if self._err is None:
            self._err = _make_console(stderr=True, color=self.color)
        return self._err

    def show(self, *renderables: RenderableType) -> None:
        """Print renderables to stdout; plain lines are never hard-wrapped (scripts grep them)."""
        # A str is never markup, and its control characters are shown escaped (ids are data).
        from rich.text import Text

        items = [Text(clean(r)) if isinstance(r, str) else r for r in renderables]
        plain = all(isinstance(r, Text) for r in items)
        self.out.print(*items, soft_wrap=plain)

    def _surely_piped(self) -> bool:
        """Whether stdout is certainly not a terminal, known without importing rich.

        Only the plain case is decided here (no console made yet, no colour
        forced by flag or environment, ``isatty()`` false); anything else is
        left to rich's own test, so the answer never differs from it.
        """
        if self._out is not None or self.color is not None:
            return False
        if any(os.environ.get(k) for k in ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE")):
            return False
        isatty = getattr(sys.stdout, "isatty", None)
        return isatty is not None and not isatty()

    def output_format(self) -> str:
        """``table``, ``json`` or ``csv``: ``--format``, with ``--json`` meaning json."""
        if self.as_json and self.fmt not in (None, "json"):
            self.fail(f"--json and --format {self.fmt} ask for two formats.", "give one of them.")
        return "json" if self.as_json else (self.fmt or "table")

    def show_rows(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        right: Collection[int] = (),
        table: Callable[[], RenderableType] | None = None,
    ) -> None:
        """Print a table of plain cells: rich on a terminal, aligned plain text off it.

        Off a terminal no row ever wraps (``aion list | grep order-1`` must
        find the whole row whatever the length of the ids: a pipe has no
        width, so 80 columns would be a guess), and the text is laid out
        here in one pass, so 5,000 rows print in milliseconds.

        Args:
            headers: Column titles.
            rows: Cells, already cleaned of control characters.
            right: Indexes of right-justified columns (numbers).
            table: The styled rich table for a terminal (default: a plain one).
        """
        if not self._surely_piped() and self.out.is_terminal:
            self.out.print(table() if table is not None else _rich_table(headers, rows, right))
            return
        click.echo("\n".join(plain_table(headers, rows, right)))

    def echo_csv(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Print CSV (RFC 4180, a header row first); values are written as they are."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
        click.echo(buffer.getvalue(), nl=False)

    def echo_json(self, data: Any, *, line: bool = False) -> None:
        """Print JSON for scripts: plain text, never wrapped or coloured.

        Args:
            data: A JSON value.
            line: One compact line (a stream of records: a worker's banner,
                ``inspect --follow``), flushed at once so a pipe sees it.
        """
        indent = None if line else 2
        text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False, default=str)
        click.echo(text)
        if line:
            sys.stdout.flush()

    def note(self, text: str) -> None:
        """A diagnostic line on stderr (progress, where results went)."""
        from rich.markup import escape

        self.err.print(escape(clean(text)))

    # --- the database ---------------------------------------------------------------

    def backend(self, *, write: bool = False) -> Backend:
        """The running worker's endpoint if one serves this file, else the file itself.

        Args:
            write: Open the file writable (start/signal/cancel/import without a worker).
        """
        from .backend import open_backend

        if self._backend is not None and (not write or self._backend.writable):
            return self._backend
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        self._backend = open_backend(self.db, write=write)
        return self._backend

    def close(self) -> None:
        """Release the backend (closes a directly opened file)."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    # --- errors -----------------------------------------------------------------------

    def fail(self, message: str, hint: str = "", code: int = EXIT_USAGE) -> NoReturn:
        """Stop the command with one error line, a hint and an exit code."""
        raise CliError(message, hint, code)

    def handle_error(self, exc: BaseException) -> NoReturn:
        """Report an exception a command let escape and exit with its code."""
        from rich.markup import escape

        import aion

        code, hint = classify(exc)
        if self.debug:
            trace = "".join(traceback.format_exception(exc))
            self.err.print(escape(clean(trace, newlines=True)).rstrip())
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, aion.AionError | CliError):
            text = f"{type(exc).__name__}: {text}"
        self.err.print(f"[bold red]error:[/] {escape(clean(text))}")
        if hint:
            self.err.print(f"[dim]hint:[/] {escape(clean(hint))}")
        self.close()
        raise click.exceptions.Exit(code)


def default_db() -> str:
    """``AION_DB`` or ``./aion.duckdb`` (what ``--db`` means when not given)."""
    return os.environ.get("AION_DB") or "aion.duckdb"


def plain_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int] = ()
) -> list[str]:
    """The lines of a table as rich's ``SIMPLE_HEAD`` box draws it, without its cost.

    Columns three spaces apart, a rule under the header, trailing spaces dropped.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for n, value in enumerate(row):
            widths[n] = max(widths[n], len(value))

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(widths[n]) if n in right else c.ljust(widths[n]) for n, c in enumerate(cells)
        ]
        return "   ".join(parts).rstrip()

    return [line(headers), "─" * (sum(widths) + 3 * (len(widths) - 1))] + [line(r) for r in rows]


def _rich_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int]
) -> RenderableType:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for n, name in enumerate(headers):
        table.add_column(Text(name), overflow="fold", justify="right" if n in right else "left")
    for row in rows:
        table.add_row(*(Text(v) for v in row))
    return table
