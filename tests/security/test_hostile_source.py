"""The divergence panel reads only Python source files (issue 12, defect 8).

A divergence panel shows the source line each side yielded from. The
recorded side's ``source`` comes from the history, and before this fix any
readable file it named was printed (a private key's first line), ``/dev/zero``
exhausted memory and a FIFO hung the command. Now only a regular file whose
real name ends in ``.py`` is read, without blocking and bounded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from aion_cli.main import cli
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "replay_fixtures" / "call_one" / "good.json"
SECRET = "TOPSECRET-do-not-print"


def _replay_with_source(folder: Path, source: str) -> str:
    """Replay a fixture whose recorded call differs (so it diverges) and names ``source``."""
    data: dict[str, Any] = json.loads(GOOD.read_text())
    data["events"][1]["digest"] = "0" * 16  # the call no longer matches:
    data["events"][1]["args"] = [22]  # other arguments, not just another spelling of them
    data["events"][1]["source"] = source
    path = folder / "f.json"
    path.write_text(json.dumps(data))
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    result = runner.invoke(
        cli,
        ["--db", str(folder / "x.duckdb"), "replay", str(path), "-m", "tests.fixture_workflows"],
    )
    assert result.exit_code == 1, result.output
    assert "divergence in 'call_one' at seq 2" in result.output
    return result.output


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "id_rsa"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


def test_a_private_file_named_by_the_history_is_not_printed(tmp_path: Path, secret: Path) -> None:
    assert SECRET not in _replay_with_source(tmp_path, f"{secret}:1")


def test_a_py_link_to_a_private_file_is_not_printed(tmp_path: Path, secret: Path) -> None:
    (tmp_path / "flows.py").symlink_to(secret)
    assert SECRET not in _replay_with_source(tmp_path, f"{tmp_path / 'flows.py'}:1")


def test_a_device_or_a_fifo_is_not_opened(tmp_path: Path) -> None:
    """``/dev/zero`` (endless) and a FIFO (blocks on open) give no line and no hang."""
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.py")
    for source in (f"{tmp_path / 'zero.py'}:1", f"{tmp_path / 'fifo.py'}:1", "/dev/zero:1"):
        _replay_with_source(tmp_path, source)


def test_a_real_source_line_is_still_shown(tmp_path: Path) -> None:
    shown = _replay_with_source(tmp_path, f"{ROOT}/tests/fixture_workflows.py:62")
    assert "return (yield aion.call(double, x))" in shown or "yield aion.call(double" in shown
