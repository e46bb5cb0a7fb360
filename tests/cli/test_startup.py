"""Startup stays cheap: what `aion --help` and `aion list` import (speed itself is a benchmark).

Each command is imported only when it runs, so the help page costs click
alone and `aion list` never loads the engine, asyncio, the interpreter or
replay. These tests read ``sys.modules`` of a real process, so they fail the
day an eager import creeps back in, however fast the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
from aion_cli.main import COMMANDS, cli

from tests.cli.conftest import ROOT, subprocess_env

PROBE = """
import json, sys
from aion_cli.main import cli
try:
    cli(sys.argv[1:], prog_name="aion")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    modules: list[str] = json.loads(done.stderr.splitlines()[-1])
    return set(modules)


def test_help_imports_neither_aion_nor_rich() -> None:
    modules = imported("--help")
    assert "aion_cli.main" in modules
    heavy = {m for m in modules if m.split(".")[0] in ("aion", "rich", "duckdb", "cattrs")}
    assert heavy == set()
    assert not {m for m in modules if m.endswith("_cmd")}


def test_list_loads_the_store_but_not_the_engine(fixed_db: Path) -> None:
    modules = imported("--db", str(fixed_db), "list")
    assert {"aion.store", "aion_cli.list_cmd", "duckdb"} <= modules
    for absent in (
        "aion._engine",
        "aion._interpreter",
        "aion._replay",
        "asyncio",
        "aion_cli.run_cmd",
    ):
        assert absent not in modules, absent


def test_the_lazy_table_matches_the_commands() -> None:
    ctx = click.Context(cli)
    for name, (_module, _attr, help_line) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=1000) == help_line, name


def test_the_help_page_lists_every_command() -> None:
    from click.testing import CliRunner

    page = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        assert f"\n  {name} " in page, name
    assert cli.get_command(click.Context(cli), "nope") is None
