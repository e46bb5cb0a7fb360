"""A hostile history cannot rewrite the terminal (issue 12, defect 4).

Before this fix raw ESC sequences in workflow ids, names, sources and error
messages reached the output even with ``--no-color`` (clear screen, window
title, OSC 8 links), and ids in table cells were parsed as rich markup, so
``[green]order-1[/]`` displayed as ``order-1``. Now history text is always a
`rich.text.Text` with control characters shown as escapes. Checked in
process with CliRunner and in a real terminal (a pty running ``aion``).
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aion_cli.main import cli
from click.testing import CliRunner

import aion

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "replay_fixtures"
ID = "[green]order-1[/]\x1b[2J"
CLEAR, TITLE, LINK = "\x1b[2J", "\x1b]0;pwned\x07", "\x1b]8;;http://evil.example/\x07"
NAME = f"reject{TITLE}"
MESSAGE = f"boom{LINK}click me\x1b]8;;\x07{CLEAR}\rforged line"
SOURCE = f"flows.py{CLEAR}:12"
HOSTILE = (CLEAR, TITLE, LINK, "\x1b]8;;\x07", "\rforged")


def _hostile_failed(folder: Path) -> Path:
    data: dict[str, Any] = json.loads((FIXTURES / "fails_uncaught" / "good.json").read_text())
    data["workflow_id"] = ID
    for event in data["events"]:
        if event["kind"] == "ActivityScheduled":
            event["name"], event["source"] = NAME, SOURCE
        if "error" in event:
            event["error"]["message"] = MESSAGE
            event["error"]["type"] = f"Evil{CLEAR}Error"
    path = folder / "hostile.json"
    path.write_text(json.dumps(data))
    return path


def _hostile_divergence(folder: Path) -> Path:
    data: dict[str, Any] = json.loads((FIXTURES / "call_one" / "good.json").read_text())
    data["workflow_id"] = ID
    data["events"][1]["name"] = f"double{TITLE}"
    data["events"][1]["digest"] = "0" * 16  # diverges, so the panel shows the recorded side
    data["events"][1]["source"] = f"{ROOT}/tests/fixture_workflows.py{CLEAR}:62"
    path = folder / "diverges.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    db = tmp_path / "aion.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "import", str(_hostile_failed(tmp_path))])
    assert result.exit_code == 0, result.output
    return db


def _commands(db: Path, folder: Path) -> list[list[str]]:
    diverges = str(_hostile_divergence(folder))
    return [
        ["--db", str(db), "list"],
        ["--db", str(db), "describe", ID],
        ["--db", str(db), "inspect", ID],
        ["--db", str(db), "replay", diverges, "-m", "tests.fixture_workflows"],
        ["--db", str(db), "replay", "--all", "-m", "tests.fixture_workflows_v2"],
        ["--db", str(db), "debug", diverges, "-m", "tests.fixture_workflows", "--until", "2"],
        ["--db", str(db), "describe", f"missing{CLEAR}"],
    ]


def test_no_escape_from_a_history_reaches_plain_output(hostile_db: Path, tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1", "FORCE_COLOR": None})
    outputs = []
    for args in _commands(hostile_db, tmp_path):
        for color in ("--no-color", None):
            result = runner.invoke(cli, [color, *args] if color else args)
            assert "Traceback" not in result.output, result.output
            assert "\x1b" not in result.output, (args, result.output)
            assert "\r" not in result.output, (args, result.output)
            outputs.append(result.output)
    everything = "".join(outputs)
    assert "[green]order-1[/]\\x1b[2J" in everything  # the id, literally, as data
    assert "reject\\x1b]0;pwned\\x07" in everything
    assert "\\rforged line" in everything
    assert "flows.py\\x1b[2J:12" in everything
    assert "double\\x1b]0;pwned\\x07" in everything  # in the divergence panel


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, b"".join(chunks)
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_real_terminal_gets_no_escape_from_the_history(hostile_db: Path, tmp_path: Path) -> None:
    """In colour on a terminal, rich's own styling is there, but nothing from the history."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update({"TERM": "xterm-256color", "COLUMNS": "250", "PYTHONPATH": str(ROOT)})
    seen = b""
    for args in _commands(hostile_db, tmp_path):
        main, child = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "aion_cli", "--color", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=child,
            stderr=child,
            close_fds=True,
        )
        os.close(child)
        try:
            out = _read_all(main)
        finally:
            proc.wait(timeout=60)
            os.close(main)
        assert b"Traceback" not in out, out
        for sequence in HOSTILE:
            assert sequence.encode() not in out.replace(b"\r\n", b"\n"), (args, out)
        seen += out
    text = seen.decode(errors="replace")
    assert "\x1b[" in text  # colour really was on
    assert "[green]order-1[/]" in text
    assert "\\x1b]0;pwned\\x07" in text


def test_the_run_live_view_shows_history_text_escaped() -> None:
    """`aion run`'s live panel renders ids, pending lines and events as data, never markup."""
    from datetime import UTC, datetime

    from aion_cli.run_cmd import live_view
    from rich.console import Console

    desc = aion.WorkflowDescription(
        workflow_id=ID,
        run_id="r1",
        workflow_type=f"shop{TITLE}",
        status="running",
        stalled_reason=None,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        closed_at=None,
        last_seq=3,
        runs=1,
        parent_id=None,
        pending=(f"signal {NAME}",),
        timers=(),
    )
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    console.print(live_view(desc, f"ActivityFailed {MESSAGE}", 1.5))
    shown = out.getvalue()
    assert not any(seq in shown for seq in HOSTILE), repr(shown)
    assert "[green]order-1[/]\\x1b[2J" in shown  # the markup is shown as typed, not applied
    assert "\\x1b]0;pwned\\x07" in shown
