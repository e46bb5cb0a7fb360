"""A hostile `.duckdb` file: SQL stored in it must never run, and it is refused in one line.

The file is a real aion store (recorded by an engine) into which another
program saved macros that shadow what aion's queries call (``epoch_us``,
``json_extract_string`` behind ``->>``, ``duckdb_tables``) and read a private
file. Opening it must refuse it, name the objects, and never show the secret.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from aion_cli.main import cli
from click.testing import CliRunner

import aion
from aion.store import DuckDBStore

ROOT = Path(__file__).resolve().parents[2]
SECRET = "TOP-SECRET-5f3a9c"


@aion.activity
def greet(name: str) -> str:
    return f"hello {name}"


@aion.workflow
def hello(name: str):  # type: ignore[no-untyped-def]
    return (yield aion.call(greet, name))


def _aion_store(path: Path) -> None:
    with aion.Engine(str(path), workflows=[hello], activities=[greet]) as engine:
        engine.start(hello, "ada", workflow_id="w-1")
        engine.run_until_complete("w-1")


def _plant(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    for statement in statements:
        con.execute(statement)
    con.close()


@pytest.fixture
def private(tmp_path: Path) -> Path:
    secret = tmp_path / "private.txt"
    secret.write_text(SECRET + "\n")
    return secret


@pytest.fixture
def hostile(tmp_path: Path, private: Path) -> Path:
    """An aion store whose macros read ``private`` wherever aion's queries look."""
    path = tmp_path / "hostile.duckdb"
    _aion_store(path)
    read = f"(SELECT content FROM read_text('{private}'))"
    _plant(
        path,
        f"CREATE MACRO epoch_us(x) AS 0 * length({read})",
        f"CREATE MACRO json_extract_string(a, b) AS {read}",
        f'CREATE MACRO "->>"(a, b) AS {read}',
        f"CREATE MACRO duckdb_tables() AS TABLE SELECT {read} AS table_name",
    )
    return path


def _cli(*args: str) -> tuple[int, str]:
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "AION_DB": None})
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _subprocess(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "aion_cli", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_the_engine_refuses_a_file_with_shadowing_macros(hostile: Path) -> None:
    before = hostile.read_bytes()
    with pytest.raises(aion.StoreCorruptedError) as err:
        aion.Engine(str(hostile), workflows=[hello], activities=[greet])
    message = str(err.value)
    assert "objects aion did not create" in message
    for name in ("macro epoch_us", "macro json_extract_string", "macro ->>"):
        assert name in message
    assert "table macro duckdb_tables" in message
    assert SECRET not in message
    assert hostile.read_bytes() == before


@pytest.mark.parametrize("command", [("list",), ("inspect", "w-1"), ("replay", "--all")])
@pytest.mark.parametrize("run", [_cli, _subprocess], ids=["clirunner", "subprocess"])
def test_the_cli_refuses_it_in_one_line(
    hostile: Path, command: tuple[str, ...], run: object
) -> None:
    args = ["--db", str(hostile), *command]
    if command[0] == "replay":
        args += ["-m", "tests.security.test_hostile_duckdb"]
    code, output = run(*args)  # type: ignore[operator]
    assert code == 3, output
    assert SECRET not in output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "objects aion did not create" in errors[0], output


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("CREATE VIEW status AS SELECT 1 AS x", "view status"),
        ("CREATE OR REPLACE VIEW workflows AS SELECT 1 AS x", "view workflows"),
        ("CREATE SEQUENCE counter", "sequence counter"),
        ("CREATE TYPE mood AS ENUM ('ok')", "type mood"),
        ("CREATE SCHEMA side", "schema side"),
        ("CREATE TABLE extra (x INTEGER)", "table extra"),
        ("CREATE INDEX by_kind ON events (kind)", "index by_kind"),
        ("CREATE MACRO twice(x) AS x * 2", "macro twice"),
        (  # SQL that would run inside every append aion commits
            "CREATE TRIGGER wipe AFTER INSERT ON events FOR EACH STATEMENT "
            "DELETE FROM aion_meta WHERE key = 'none'",
            "trigger wipe",
        ),
        ("ALTER TABLE events ADD COLUMN spy VARCHAR DEFAULT 'x'", "table events"),
        ("ALTER TABLE events ALTER COLUMN kind SET DEFAULT 'x'", "table events"),
    ],
)
def test_every_kind_of_foreign_object_is_refused(
    tmp_path: Path, statement: str, named: str
) -> None:
    path = tmp_path / "planted.duckdb"
    _aion_store(path)
    _plant(path, statement)
    for read_only in (True, False):
        with pytest.raises(aion.StoreCorruptedError, match="objects aion did not create") as err:
            DuckDBStore(path, read_only=read_only)
        assert named in str(err.value)


def test_a_clean_store_still_opens_and_reads_json(tmp_path: Path) -> None:
    path = tmp_path / "clean.duckdb"
    _aion_store(path)
    store = DuckDBStore(path, read_only=True)
    try:
        assert store.history("w-1")[0].seq == 1
        info = store.info("w-1")
        assert info is not None and info.status == "completed"
    finally:
        store.close()


def test_connections_cannot_reach_outside_the_file(tmp_path: Path, private: Path) -> None:
    path = tmp_path / "clean.duckdb"
    _aion_store(path)
    store = DuckDBStore(path, read_only=True)
    try:
        con = store._con
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT content FROM read_text('{private}')").fetchall()
        with pytest.raises(duckdb.Error, match="configuration has been locked"):
            con.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.Error, match="configuration has been locked"):
            con.execute("SET autoload_known_extensions = true")
        settings = dict(
            con.execute(
                "SELECT name, value FROM system.main.duckdb_settings() WHERE name IN "
                "('enable_external_access', 'autoinstall_known_extensions', "
                "'autoload_known_extensions', 'lock_configuration')"
            ).fetchall()
        )
        assert settings == {
            "enable_external_access": "false",
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
            "lock_configuration": "true",
        }
    finally:
        store.close()
