"""The worker endpoint protocol (`aion.endpoint`): a client calls a live server and gets its errors.

The raw HTTP refusals (no secret, bad lengths, replays, idle connections)
are attacked in tests/security/; here the two halves talk to each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import aion
from aion.endpoint import (
    EndpointClient,
    EndpointError,
    EndpointServer,
    RemoteError,
    endpoint_file,
    read_endpoint,
)


def _missing(args: object) -> None:
    raise aion.WorkflowNotFound("no workflow with id 'x' in this store.")


HANDLERS = {"ping": lambda args: "pong", "boom": lambda args: 1 / 0, "missing": _missing}


def test_a_client_calls_the_worker_and_gets_its_errors_back(tmp_path: Path) -> None:
    db = str(tmp_path / "x.duckdb")
    server = EndpointServer(db, HANDLERS, classify=lambda exc: (7, f"about {type(exc).__name__}"))
    server.start()
    try:
        endpoint = read_endpoint(db)
        assert endpoint is not None
        assert (endpoint.port, endpoint.pid, endpoint.db) == (server.port, os.getpid(), db)
        client = EndpointClient(endpoint)
        assert client.call("ping") == "pong"
        with pytest.raises(RemoteError) as raised:
            client.call("boom")
        error = raised.value
        assert (error.type_name, error.code, error.hint) == (
            "ZeroDivisionError",
            7,
            "about ZeroDivisionError",
        )
        assert type(error.rebuilt()) is aion.AionError  # not one of aion's: the root
        with pytest.raises(RemoteError) as raised:
            client.call("missing")
        rebuilt = raised.value.rebuilt()
        assert isinstance(rebuilt, aion.WorkflowNotFound)  # what aion.Client raises
        assert str(rebuilt) == "no workflow with id 'x' in this store."
        with pytest.raises(RemoteError, match="unknown operation 'nope'"):
            client.call("nope")
        forged = EndpointClient(attrs.evolve(endpoint, secret="forged"))
        with pytest.raises(EndpointError, match="wrong or missing secret") as refused:
            forged.call("ping")
        assert "stale or was replaced" in refused.value.hint
        assert isinstance(refused.value, aion.StoreError)
    finally:
        server.stop()
    assert not endpoint_file(db).exists()
    assert read_endpoint(db) is None
    with pytest.raises(EndpointError, match="did not answer") as gone:
        client.call("ping")
    assert gone.value.hint == "is the worker still running?"


def test_a_server_without_classify_sends_no_code(tmp_path: Path) -> None:
    db = str(tmp_path / "y.duckdb")
    server = EndpointServer(db, HANDLERS)
    server.start()
    try:
        endpoint = read_endpoint(db)
        assert endpoint is not None
        with pytest.raises(RemoteError) as raised:
            EndpointClient(endpoint).call("boom")
        assert (raised.value.code, raised.value.hint) == (None, "")
    finally:
        server.stop()


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
