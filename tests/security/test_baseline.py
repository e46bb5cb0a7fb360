"""Security: payloads are JSON only, the control endpoint is loopback and secret, paths are data.

Each test attacks the real thing: a history forged to look like a pickle or
a class reference, an activity returning an object with ``__reduce__``, raw
HTTP requests to a live endpoint, and database paths crafted to run code if
anything imported or executed them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import pytest

import aion

ROOT = Path(__file__).resolve().parents[2]
UNSAFE = re.compile(
    r"^\s*(import|from)\s+(pickle|cPickle|dill|marshal|shelve|jsonpickle)\b|\beval\(|\bexec\("
)


def test_no_module_deserializes_anything_but_json() -> None:
    offenders = []
    for folder in ("aion", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if UNSAFE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


class Exploit:
    """Would run a command if anything pickled and unpickled it."""

    def __reduce__(self) -> Any:
        return (os.system, ("touch pwned",))


@aion.activity(name="sec.returns_object", retry=aion.RetryPolicy(max_attempts=1))
def returns_object() -> Any:
    return Exploit()


@aion.workflow(name="sec.calls")
def calls() -> Any:
    try:
        yield aion.call(returns_object)
    except aion.ActivityError as exc:
        return [exc.cause_type, exc.message]
    return "recorded an object"


@aion.workflow(name="sec.receives")
def receives() -> Any:
    value = yield aion.receive_signal("data")
    return [type(value).__name__, value]


def test_objects_are_refused_not_pickled_and_every_payload_is_json(tmp_path: Path) -> None:
    path = str(tmp_path / "db.duckdb")
    with aion.Engine(path, workflows=[calls], activities=[returns_object]) as engine:
        engine.start(calls, workflow_id="c")
        assert engine.run_until_complete("c") == [
            "aion.CodecError",
            "the result of activity 'sec.returns_object' cannot be encoded as JSON: Exploit "
            "(Object of type Exploit is not JSON serializable).",
        ]
        with pytest.raises(aion.CodecError):
            engine.start(calls, Exploit(), workflow_id="d")
    con = duckdb.connect(path, read_only=True)
    rows = con.execute("SELECT payload, json_valid(payload) FROM events").fetchall()
    con.close()
    assert rows
    assert all(valid for _, valid in rows)
    assert not any("Exploit" in str(p) and "__reduce__" in str(p) for p, _ in rows)
    assert not (tmp_path / "pwned").exists()


def test_a_forged_history_payload_stays_plain_data(tmp_path: Path) -> None:
    """A payload shaped like a class reference or a pickle is a dict or a string, never code."""
    path = str(tmp_path / "db.duckdb")
    with aion.Engine(path, workflows=[receives]) as engine:
        engine.start(receives, workflow_id="r")
        engine.run_until_idle()
    forged = {
        "py/object": "os.system",
        "__reduce__": ["os.system", ["touch pwned"]],
        "pickle": "gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAt0b3VjaCBwd25lZJSFlFKULg==",
    }
    con = duckdb.connect(path)
    con.execute(
        "INSERT INTO events SELECT workflow_id, max(seq) + 1, any_value(run_id), "
        "'SignalReceived', NULL, 'data', ?, now(), NULL, NULL FROM events GROUP BY workflow_id",
        [json.dumps({"payload": forged, "carried": False, "sender": None})],
    )
    con.close()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with aion.Engine(path, workflows=[receives]) as engine:
            assert engine.run_until_complete("r") == ["dict", forged]
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "pwned").exists()


# --- the loopback control endpoint --------------------------------------------------------

endpoint = pytest.importorskip("aion.endpoint")


@pytest.fixture
def server(tmp_path: Path) -> Any:
    calls: list[Any] = []
    srv = endpoint.EndpointServer(
        str(tmp_path / "db.duckdb"), {"echo": lambda a: calls.append(a) or a}
    )
    srv.start()
    srv.calls = calls
    yield srv
    srv.stop()


def _post(port: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_endpoint_listens_on_loopback_only(server: Any) -> None:
    host, port = server._server.server_address[:2]
    assert host == "127.0.0.1"
    assert port == server.port


def test_endpoint_refuses_requests_without_the_secret(server: Any) -> None:
    request = {"op": "echo", "args": {"x": 1}, "id": "r" * 16, "at": time.time()}
    body = json.dumps(request).encode()
    for headers in (
        {},
        {endpoint.SECRET_HEADER: "guess"},
        {endpoint.SECRET_HEADER: server.secret[:-1]},
    ):
        status, reply = _post(server.port, headers, body)
        assert (status, reply) == (
            403,
            {"ok": False, "error": {"message": "wrong or missing secret"}},
        )
    assert server.calls == []  # nothing ran
    status, reply = _post(server.port, {endpoint.SECRET_HEADER: server.secret}, body)
    assert (status, reply) == (200, {"ok": True, "value": {"x": 1}})


def test_endpoint_secret_file_is_owner_only(server: Any, tmp_path: Path) -> None:
    path = endpoint.endpoint_file(str(tmp_path / "db.duckdb"))
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600
    assert json.loads(path.read_text())["secret"] == server.secret


# --- database paths are data, never code --------------------------------------------------

PAYLOAD = "import pathlib; pathlib.Path({marker!r}).write_text('imported')\n"


@pytest.mark.parametrize(
    "name",
    ["evil.py", "evil", "$(touch pwned).duckdb", "`touch pwned`.duckdb", "x; touch pwned.duckdb"],
)
def test_database_paths_on_the_command_line_are_never_executed(tmp_path: Path, name: str) -> None:
    pytest.importorskip("aion_cli.main")
    marker = tmp_path / "imported"
    db = tmp_path / name
    db.write_text(PAYLOAD.format(marker=str(marker)))
    before = db.read_bytes()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    for argv in (
        ["--db", str(db), "list"],
        ["--db", str(db), "inspect", "x"],
        ["--db", name, "list"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "aion_cli", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 3, result
        assert "not a DuckDB database file" in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert not marker.exists()
    assert not (tmp_path / "pwned").exists()
    assert db.read_bytes() == before
