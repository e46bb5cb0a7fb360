"""The CLI trusts only its owner's endpoint file (issue 12, defect 3).

Before this fix any ``<db>.aion-worker.json`` was believed: a file another
local user planted received every signal payload, the CLI printed
"recorded" while nothing was, and ``aion worker`` refused to start. Now the
file must be a regular file (not a link) owned by the current user with mode
0600; anything else is a clear error for a client, and a worker replaces it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aion_cli.main import cli
from click.testing import CliRunner

from aion.endpoint import endpoint_file
from tests.cli.conftest import ROOT, SAMPLE, aion_command, record_fixed_histories, subprocess_env

NOBODY = 65534


class _Impostor(BaseHTTPRequestHandler):
    """Another user's listener: answers "ok" to everything and keeps what it was sent."""

    received: ClassVar[list[bytes]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(body)
        reply = json.dumps({"ok": True, "value": None}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


@pytest.fixture
def impostor() -> Iterator[ThreadingHTTPServer]:
    _Impostor.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("planted") / "aion.duckdb"
    record_fixed_histories(path)
    return path


def _plant(db: Path, port: int, how: str) -> Path:
    path = endpoint_file(str(db))
    text = json.dumps({"port": port, "pid": os.getpid(), "secret": "s", "db": str(db)})
    if how == "symlink":
        real = db.parent / "elsewhere.json"
        real.write_text(text)
        real.chmod(0o600)
        path.symlink_to(real)
        return path
    path.write_text(text)
    path.chmod(0o644 if how == "mode 0644" else 0o600)
    if how == "other owner":
        os.chown(path, NOBODY, NOBODY)
    return path


@pytest.mark.parametrize("how", ["other owner", "mode 0644", "symlink"])
def test_a_planted_endpoint_file_receives_nothing(
    tmp_path: Path, db_template: Path, impostor: ThreadingHTTPServer, how: str
) -> None:
    db = tmp_path / "aion.duckdb"
    shutil.copy(db_template, db)
    path = _plant(db, impostor.server_address[1], how)
    runner = CliRunner(env={"NO_COLOR": "1"})
    result = runner.invoke(cli, ["--db", str(db), "signal", "appr-1", "approve", "secret-payload"])
    assert result.exit_code == 3, result.output
    assert "recorded" not in result.output
    assert result.output.startswith(f"error: refusing the worker endpoint file {path}: ")
    reason = {
        "other owner": f"it is owned by uid {NOBODY}, not by you (uid {os.getuid()})",
        "mode 0644": "its mode is 0644, not 0600",
        "symlink": "it is a symbolic link",
    }[how]
    assert reason in result.output
    assert _Impostor.received == []
    listed = runner.invoke(cli, ["--db", str(db), "list"])
    assert listed.exit_code == 3 and _Impostor.received == []


def test_a_worker_replaces_a_planted_file_and_says_where_it_is(
    tmp_path: Path, db_template: Path, impostor: ThreadingHTTPServer
) -> None:
    db = tmp_path / "aion.duckdb"
    shutil.copy(db_template, db)
    path = _plant(db, impostor.server_address[1], "other owner")
    proc = subprocess.Popen(
        aion_command("--db", str(db), "worker", SAMPLE),
        cwd=ROOT,
        env=subprocess_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith(f"warning: replacing {path}: it is owned by uid {NOBODY}")
        serving = proc.stderr.readline()
        assert serving.startswith(f"worker serving {db} (pid {proc.pid}, 127.0.0.1:")
        info = path.lstat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.getuid(), 0o600)
        assert json.loads(path.read_text())["pid"] == proc.pid
        runner = CliRunner(env={"NO_COLOR": "1"})
        sent = runner.invoke(cli, ["--db", str(db), "signal", "appr-1", "approve", "true"])
        assert sent.exit_code == 0, sent.output
        assert _Impostor.received == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
