# ruff: noqa: E501 - expected outputs are whole terminal lines
"""The worker's loopback endpoint: secret file, refusals, and store errors as exit codes."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
from aion_cli.errors import classify

import aion
from aion.endpoint import (
    EndpointClient,
    EndpointError,
    EndpointServer,
    RemoteError,
    endpoint_file,
    read_endpoint,
)
from tests.cli.conftest import Invoke


def _post(port: int, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        body = {"op": "ping", "args": {}, "id": secrets.token_hex(16), "at": time.time()}
        conn.request("POST", "/", body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_endpoint_serves_only_requests_carrying_the_secret(tmp_path: Path) -> None:
    db = str(tmp_path / "x.duckdb")

    def missing(args: object) -> None:
        raise aion.WorkflowNotFound("no workflow with id 'x' in this store.")

    handlers = {"ping": lambda args: "pong", "boom": lambda args: 1 / 0, "missing": missing}
    server = EndpointServer(db, handlers, classify=classify)
    server.start()
    try:
        path = endpoint_file(db)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        endpoint = read_endpoint(db)
        assert endpoint is not None
        assert (endpoint.port, endpoint.pid) == (server.port, os.getpid())
        assert _post(server.port, {})[0] == 403
        assert _post(server.port, {"X-Aion-Secret": "guess"})[0] == 403
        assert _post(server.port, {"X-Aion-Secret": endpoint.secret}) == (
            200,
            {"ok": True, "value": "pong"},
        )
        client = EndpointClient(endpoint)
        assert client.call("ping") == "pong"
        with pytest.raises(RemoteError) as raised:
            client.call("boom")
        assert raised.value.type_name == "ZeroDivisionError"
        assert raised.value.code == 3
        assert type(raised.value.rebuilt()) is aion.AionError  # not one of aion's: the root
        with pytest.raises(RemoteError) as raised:
            client.call("missing")
        assert (raised.value.code, raised.value.hint) == classify(aion.WorkflowNotFound("x"))
        assert isinstance(raised.value.rebuilt(), aion.WorkflowNotFound)  # as aion.Client raises
        forged = EndpointClient(attrs.evolve(endpoint, secret="forged"))
        with pytest.raises(EndpointError, match="wrong or missing secret") as refused:
            forged.call("ping")
        assert classify(refused.value)[0] == 3 and "stale or was replaced" in refused.value.hint
    finally:
        server.stop()
    assert not endpoint_file(db).exists()
    assert read_endpoint(db) is None


def test_a_stale_endpoint_file_is_ignored(tmp_path: Path) -> None:
    db = str(tmp_path / "x.duckdb")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    endpoint_file(db).write_text(
        json.dumps({"port": 1, "pid": int(dead.stdout), "secret": "s", "db": db})
    )
    endpoint_file(db).chmod(0o600)  # as a worker writes it: only a trusted file is read at all
    assert read_endpoint(db) is None


def test_a_file_locked_by_another_process_names_its_pid(invoke: Invoke, fixed_db: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(fixed_db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = invoke("list")
        assert result.exit_code == 3
        first, hint = result.output.splitlines()
        assert first.startswith("error: cannot open ")
        assert f"the file is locked by process {holder.pid}." in first
        assert hint == "hint: stop the process that holds the file, or start `aion worker` on it."
    finally:
        holder.kill()
        holder.wait()


def test_damaged_and_missing_files_are_store_errors(invoke: Invoke, tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database at all" * 100)
    result = invoke("list", db=junk)
    assert result.exit_code == 3
    assert result.output == (
        f"error: cannot open {str(junk)!r}: it is not a DuckDB database file.\n"
        "hint: check the --db path (or AION_DB).\n"
    )
    missing = invoke("list", db=tmp_path / "none.duckdb")
    assert missing.exit_code == 3
    assert missing.output.startswith("error: there is no aion database at ")


def test_debug_flag_shows_the_traceback(invoke: Invoke) -> None:
    result = invoke("--debug", "describe", "nope")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.output
    assert result.output.endswith(
        "error: no workflow with id 'nope' in this store.\nhint: `aion list` shows the workflows in this database.\n"
    )
