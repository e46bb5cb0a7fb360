"""``aion sql``: one read-only SELECT over the history tables, as a table, JSON or CSV.

DuckDB: the store's hardened connection (external access off, configuration
locked) runs the one SELECT in a READ ONLY transaction that is rolled back,
through the running worker's endpoint when a worker holds the file.
PostgreSQL: a READ ONLY transaction on its own connection, with the search
path set to aion's schema and a statement timeout, rolled back at the end.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import click

import aion
from aion.store import is_postgres_url

from .app import App
from .errors import EXIT_USAGE, CliError
from .options import common_options, format_option
from .rows import cell
from .safe import clean

#: Rows returned unless --limit says otherwise (a history can be large).
DEFAULT_LIMIT = 1000
#: How long one PostgreSQL query may run.
PG_TIMEOUT_MS = 60_000

Result = tuple[list[str], list[tuple[Any, ...]], bool]
HINT = "one read-only SELECT; the tables are events, workflows and aion_meta."
NOT_SELECT = "aion sql runs exactly one SELECT statement (read-only)."


def postgres_sql(url: str, query: str, max_rows: int) -> Result:
    """Run ``query`` on PostgreSQL in a READ ONLY transaction (prepared: one statement only)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in params if k == "aion_schema"), "aion")
    dsn = urlunsplit(
        parts._replace(query=urlencode([(k, v) for k, v in params if k != "aion_schema"]))
    )
    try:
        with psycopg.connect(dsn, application_name="aion sql") as conn:
            conn.read_only = True
            with conn.cursor() as cur:
                cur.execute(sql.SQL("SET LOCAL search_path = {}").format(sql.Identifier(schema)))
                cur.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(PG_TIMEOUT_MS))
                # prepare=True: the server refuses several statements in one query,
                # so no "COMMIT; ..." can leave the read-only transaction.
                cur.execute(query.encode(), prepare=True)
                if cur.description is None:  # COMMIT, SET...: ran, read-only, but no SELECT
                    raise CliError(NOT_SELECT, HINT, EXIT_USAGE)
                columns = [d.name for d in cur.description]
                rows = cur.fetchmany(max_rows + 1)
            conn.rollback()
    except psycopg.Error as exc:
        msg = f"the SQL failed: {' '.join(str(exc).split())}"
        raise CliError(msg, HINT, EXIT_USAGE) from None
    return columns, [tuple(r) for r in rows[:max_rows]], len(rows) > max_rows


@click.command(name="sql")
@click.argument("query", metavar="SELECT")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="At most this many rows.",
)
@common_options
@format_option
@click.pass_obj
def sql(app: App, query: str, limit: int) -> None:
    """Run one read-only SELECT over the history (tables: events, workflows, aion_meta).

    Nothing can be changed: the query runs in a READ ONLY transaction that is
    rolled back, and anything but a single SELECT is refused. Next to a
    running worker the worker runs it. Values print as text (--format csv
    or --json for scripts).
    """
    fmt = app.output_format()
    if is_postgres_url(app.db):
        columns, rows, cut = postgres_sql(app.db, query, limit)
    else:
        try:
            columns, rows, cut = app.backend().sql(query, limit)
        except aion.ConfigurationError as exc:
            raise CliError(str(exc), HINT, EXIT_USAGE) from None
    if cut:
        app.note(f"showing the first {limit} rows: --limit N for more.")
    if fmt == "json":
        app.echo_json([dict(zip(columns, row, strict=True)) for row in rows])
    elif fmt == "csv":
        app.echo_csv(columns, ([cell(v) for v in row] for row in rows))
    else:
        cells = [[clean(cell(v)) for v in row] for row in rows]
        app.show_rows([clean(c) for c in columns], cells)
