"""Temporary files are never opened through a planted symlink (issue 12, defect 5).

The endpoint file used to be written through ``<db>.aion-worker.json.<pid>.tmp``
and fixtures through ``F.json.tmp``, opened without ``O_EXCL``: another local
user who planted a symlink at that predictable name got the worker's secret
(or the fixture) written into the link's target. Now both are made with
`tempfile.mkstemp` beside the target and renamed over it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from aion_cli.main import cli
from click.testing import CliRunner

from aion import endpoint, fixtures

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "replay_fixtures" / "call_one" / "good.json"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    return victim


def test_the_endpoint_file_is_not_written_through_a_planted_link(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    victim = _victim(tmp_path)
    planted = Path(f"{endpoint.endpoint_file(str(db))}.{os.getpid()}.tmp")
    planted.symlink_to(victim)
    server = endpoint.EndpointServer(str(db), {})
    server.start()
    try:
        assert victim.read_text() == "precious\n"
        path = endpoint.endpoint_file(str(db))
        assert not path.is_symlink()
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        assert json.loads(path.read_text())["secret"] == server.secret
    finally:
        server.stop()
    assert planted.is_symlink()  # left as it was: it is not ours
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == [planted.name]


def test_a_fixture_is_not_written_through_a_planted_link(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    target = tmp_path / "out.json"
    (tmp_path / "out.json.tmp").symlink_to(victim)
    fixtures.write(target, json.loads(GOOD.read_text()))
    assert victim.read_text() == "precious\n"
    assert fixtures.load(target).workflow == "call_one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_aion_export_does_not_follow_a_planted_link(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    db = tmp_path / "aion.duckdb"
    runner = CliRunner(env={"NO_COLOR": "1"})
    assert runner.invoke(cli, ["--db", str(db), "import", str(GOOD)]).exit_code == 0
    (tmp_path / "f.json.tmp").symlink_to(victim)
    out = tmp_path / "f.json"
    result = runner.invoke(cli, ["--db", str(db), "export", "call_one", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious\n"
    assert fixtures.load(out).workflow_id == "call_one"
