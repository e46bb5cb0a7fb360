"""Opening a DuckDB file safely: a locked-down connection and a catalog aion created.

A `.duckdb` file is data a user may have been handed, and DuckDB stores more
than data in it: macros, views, column defaults and generated columns are SQL
that runs when a query names them, a trigger is SQL that runs on every insert
into its table, and a macro saved in the file replaces a built-in function of
the same name (``epoch_us``, ``json_extract_string`` behind ``->>``, even
``duckdb_tables``). So every connection aion opens has external access and
extension autoloading off and its configuration locked (a macro that got to
run still could not read a file), and before aion runs any query of its own
the file's catalog is compared with the one aion creates:
anything else is refused with `StoreCorruptedError` naming it.

The comparison itself must not be fooled by the file: it reads the catalog
through the fully qualified ``system.main.duckdb_*`` table functions (a macro
in the file lives in its own database and cannot shadow those names) and
filters their rows in Python, so no function or operator the file could
define is ever called.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb

from aion._errors import StoreCorruptedError

#: Settings every aion connection starts with (``TimeZone`` is an ICU setting that
#: `duckdb.connect` does not take, so it is set, and the configuration locked, right after).
CONNECT_CONFIG: Final[dict[str, Any]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    # Without background purging, memory DuckDB used for a query (the index load
    # at open, a bulk history read) stays mapped: ~2 KB of RSS per workflow of
    # the file that a long-running worker never gets back.
    "allocator_background_threads": True,
}


def connect(path: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with external access off and its configuration locked."""
    con = duckdb.connect(path, read_only=read_only, config=dict(CONNECT_CONFIG))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


#: The tables aion creates.
AION_TABLES: Final = frozenset({"aion_meta", "events"})

_SYSTEM_DATABASES: Final = frozenset({"system", "temp"})


#: The catalog functions with an ``internal`` column (filtered in SQL: listing all
#: of DuckDB's ~3,000 built-in functions in Python would cost ~0.1 s per open).
_HAS_INTERNAL: Final = frozenset(
    {"duckdb_schemas", "duckdb_functions", "duckdb_types", "duckdb_views", "duckdb_tables"}
)


def _rows(con: duckdb.DuckDBPyConnection, function: str) -> list[dict[str, Any]]:
    """Rows of ``system.main.<function>()`` that describe objects stored in the file.

    ``NOT`` is an operator, not a function, so a macro in the file cannot replace it.
    """
    where = " WHERE NOT internal" if function in _HAS_INTERNAL else ""
    cursor = con.execute(f"SELECT * FROM system.main.{function}(){where}")
    names = [d[0] for d in cursor.description or ()]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return [r for r in rows if r.get("database_name") not in _SYSTEM_DATABASES]


def _triggers(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The file's triggers: SQL that would run on every append to the table they watch.

    DuckDB 2.0 added triggers (and ``duckdb_triggers``); a DuckDB without the
    function cannot store one, so there is nothing to find.
    """
    try:
        return _rows(con, "duckdb_triggers")
    except duckdb.CatalogException:
        return []


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split()).rstrip(";")


def inspect_catalog(
    con: duckdb.DuckDBPyConnection, reference: dict[str, str]
) -> tuple[list[str], set[str]]:
    """What the file's catalog holds beyond aion's objects, and its tables in ``main``.

    Tables in ``main`` other than aion's are left to the caller: in an aion store
    they are foreign objects, in any other file they make it "not an aion store".
    aion's own tables and views must read back exactly as aion creates them (the
    SQL DuckDB renders from the catalog covers columns, types, defaults,
    generated columns and constraints).

    Args:
        con: A connection to the file, on which nothing else has run yet.
        reference: aion's tables and views, and their SQL as this DuckDB renders it.

    Returns:
        One phrase per foreign object (``macro epoch_us``, ``view v``...), and the
        names of the tables in the ``main`` schema.
    """
    found: list[str] = []
    for row in _rows(con, "duckdb_schemas"):
        found.append(f"schema {row['schema_name']}")
    for row in _rows(con, "duckdb_functions"):
        found.append(f"{row['function_type'].replace('_', ' ')} {row['function_name']}")
    for row in _rows(con, "duckdb_types"):
        found.append(f"type {row['type_name']}")
    for row in _rows(con, "duckdb_sequences"):
        found.append(f"sequence {row['sequence_name']}")
    for row in _rows(con, "duckdb_indexes"):
        found.append(f"index {row['index_name']}")
    for row in _triggers(con):
        found.append(f"trigger {row['trigger_name']}")
    for row in _rows(con, "duckdb_views"):
        name = row["view_name"]
        if row["schema_name"] != "main" or name not in reference:
            found.append(f"view {name}")
        elif _normal(row["sql"]) != _normal(reference[name]):
            found.append(f"view {name} (its definition was changed)")
    main = set()
    for row in _rows(con, "duckdb_tables"):
        name = row["table_name"]
        if row["schema_name"] != "main" or row["temporary"]:
            found.append(f"table {row['schema_name']}.{name}")
            continue
        main.add(name)
        if name in AION_TABLES and _normal(row["sql"]) != _normal(reference.get(name)):
            found.append(f"table {name} (its columns or constraints were changed)")
    return found, main


def main_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables in the file's ``main`` schema (when its catalog was just checked)."""
    return {
        r["table_name"]
        for r in _rows(con, "duckdb_tables")
        if r["schema_name"] == "main" and not r["temporary"]
    }


def refuse_foreign(path: str, found: list[str]) -> StoreCorruptedError:
    """The error for a file whose catalog holds objects aion did not create."""
    shown = ", ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
    msg = (
        f"refusing to open {path!r}: its catalog holds objects aion did not create "
        f"({shown}); a history file must hold only aion's tables."
    )
    return StoreCorruptedError(msg)
