"""A fixture never decides what code runs (issue 12, defect 1).

A fixture attached to a bug report names its ``"module"``. Before this fix,
``aion replay F.json`` and ``aion debug F.json`` imported it as a file path,
or as a dotted name found in the current directory, so a fixture shipped
beside an ``evil.py`` ran it. Now a recorded module is a dotted name looked
up on the import path only; the current directory counts only when the user
names it (``--path``, ``AION_PATH``, ``PYTHONPATH``), and ``-m`` overrides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aion_cli.main import cli
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "replay_fixtures" / "call_one" / "good.json"
EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('imported')\n"


def _plant(folder: Path, module: str) -> tuple[Path, Path]:
    """An ``evil.py`` that leaves a marker when imported, and a fixture naming ``module``."""
    marker = folder / "pwned"
    (folder / "evil.py").write_text(EVIL.format(marker=str(marker)))
    data: dict[str, Any] = json.loads(GOOD.read_text())
    data["module"] = module
    fixture = folder / "report.json"
    fixture.write_text(json.dumps(data))
    return fixture, marker


def _invoke(folder: Path, *args: str, **env: str | None) -> Any:
    runner = CliRunner(env={"NO_COLOR": "1", "AION_PATH": None, "PYTHONPATH": None, **env})
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return runner.invoke(cli, ["--db", str(folder / "aion.duckdb"), *args])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("command", ["replay", "debug"])
@pytest.mark.parametrize("how", ["dotted", "file", "absolute"])
def test_a_fixture_cannot_name_code_in_the_current_directory(
    tmp_path: Path, command: str, how: str
) -> None:
    module = {"dotted": "evil", "file": "evil.py", "absolute": str(tmp_path / "evil.py")}[how]
    fixture, marker = _plant(tmp_path, module)
    args = [command, str(fixture)] + (["--until", "2"] if command == "debug" else [])
    result = _invoke(tmp_path, *args)
    assert not marker.exists(), result.output
    assert "Traceback" not in result.output
    if how == "dotted":
        assert result.exit_code == 2, result.output
        assert "cannot import module 'evil'" in result.output
        assert "--path DIR" in result.output
    else:  # the fixture loader refuses it as malformed
        assert result.exit_code == 3, result.output
        assert "'module' must be a dotted module name" in result.output


@pytest.mark.parametrize("name", ["evil.py", "/tmp/evil.py", "../evil", "evil:"])
def test_the_loader_itself_refuses_a_recorded_path(tmp_path: Path, name: str) -> None:
    """Defence in depth: a name from any history (not only a fixture) is checked again."""
    from aion_cli.errors import CliError
    from aion_cli.loader import load_recorded

    with pytest.raises(CliError, match="a recorded module must be a dotted name, not a path"):
        load_recorded([name])


def test_a_real_aion_process_does_not_import_from_its_directory(tmp_path: Path) -> None:
    """``python -m aion_cli`` puts the cwd on ``sys.path``; a recorded name still skips it."""
    fixture, marker = _plant(tmp_path, "evil")
    env = {k: v for k, v in os.environ.items() if k not in ("AION_PATH", "PYTHONPATH")}
    env.update({"NO_COLOR": "1", "PYTHONPATH": str(ROOT)})
    result = subprocess.run(
        [sys.executable, "-m", "aion_cli", "--db", "x.duckdb", "replay", str(fixture)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert not marker.exists()
    assert result.returncode == 2, result
    assert "cannot import module 'evil'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_user_can_name_the_directory_with_path(tmp_path: Path) -> None:
    """``--path .`` (or AION_PATH) is the user saying "code here is mine"."""
    fixture, marker = _plant(tmp_path, "evil")
    result = _invoke(tmp_path, "replay", str(fixture), "--path", ".")
    assert marker.exists()
    assert "importing module 'evil'" in result.output
    marker.unlink()
    sys.modules.pop("evil", None)
    _invoke(tmp_path, "replay", str(fixture), AION_PATH=str(tmp_path))
    assert marker.exists()
    sys.modules.pop("evil", None)


def test_minus_m_overrides_the_recorded_module(tmp_path: Path) -> None:
    fixture, marker = _plant(tmp_path, "evil")
    result = _invoke(tmp_path, "replay", str(fixture), "-m", "tests.fixture_workflows")
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    assert "importing module" not in result.output


def test_a_recorded_module_is_named_on_stderr_and_json_stays_clean(tmp_path: Path) -> None:
    runner = CliRunner(env={"NO_COLOR": "1", "AION_PATH": None})
    result = runner.invoke(
        cli, ["--db", str(tmp_path / "aion.duckdb"), "replay", str(GOOD), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        f"importing module 'tests.fixture_workflows' (recorded in {GOOD}; -m overrides)"
    )
    assert json.loads(result.stdout)[0]["fixture_check"] == "as expected"


def test_a_recorded_module_qualname_is_accepted(tmp_path: Path) -> None:
    """The ``module:qualname`` a history will record is a name like any other."""
    data = json.loads(GOOD.read_text())
    data["module"] = "tests.fixture_workflows:call_one"
    path = tmp_path / "q.json"
    path.write_text(json.dumps(data))
    result = _invoke(tmp_path, "replay", str(path))
    assert result.exit_code == 0, result.output
    assert "importing module 'tests.fixture_workflows'" in result.output
