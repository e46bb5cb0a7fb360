"""The endpoint's limits hold against a hostile client (issue 12, defect 6).

Before this fix ``Content-Length: -1`` made the worker read the whole stream
into memory (the 64 MB limit compared a negative number), a silent
connection held a thread forever, a client hanging up printed a traceback on
the worker's console, and the same request sent twice ran twice. Every test
here talks to a real endpoint over real sockets.
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aion.endpoint import MAX_BODY, SECRET_HEADER, EndpointServer, endpoint_file
from tests.cli.conftest import ROOT, SAMPLE, aion_command, record_fixed_histories, subprocess_env

#: How long a test waits for an answer that must come at once (a failure, not a timing).
PATIENCE = 20.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EndpointServer]:
    calls: list[Any] = []
    srv = EndpointServer(
        str(tmp_path / "db.duckdb"),
        {"signal": lambda a: calls.append(a) or len(calls)},
        idle_timeout=0.5,
    )
    srv.start()
    srv.calls = calls  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    sock.settimeout(PATIENCE)
    return sock


def _head(secret: str, length: str | None) -> bytes:
    lines = ["POST / HTTP/1.1", "Host: 127.0.0.1", f"{SECRET_HEADER}: {secret}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("length", "status", "message"),
    [
        ("-1", 400, "Content-Length must be a non-negative integer"),
        ("abc", 400, "Content-Length must be a non-negative integer"),
        ("1e3", 400, "Content-Length must be a non-negative integer"),
        (None, 411, "Content-Length is required"),
        (str(MAX_BODY + 1), 413, "request too large"),
        ("9" * 40, 413, "request too large"),
    ],
)
def test_a_bad_content_length_is_refused_before_any_body_is_read(
    server: EndpointServer, length: str | None, status: int, message: str
) -> None:
    """The answer comes with the body never sent: the worker did not wait to buffer it."""
    sock = _connect(server.port)
    try:
        sock.sendall(_head(server.secret, length))  # and then nothing: no body, no EOF
        assert _status(sock) == (status, {"ok": False, "error": {"message": message}})
    finally:
        sock.close()
    assert server.calls == []  # type: ignore[attr-defined]


def test_a_silent_connection_is_closed(server: EndpointServer) -> None:
    sock = _connect(server.port)
    try:
        assert sock.recv(1) == b""  # closed by the worker, long before PATIENCE
    finally:
        sock.close()
    half = _connect(server.port)
    try:
        half.sendall(_head(server.secret, "100") + b'{"op": ')  # a body that never ends
        assert half.recv(1) == b""
    finally:
        half.close()


def _request(server: EndpointServer, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode()
    sock = _connect(server.port)
    try:
        head = _head(server.secret, str(len(data))).replace(
            b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head + data)
        return _status(sock)
    finally:
        sock.close()


def test_a_replayed_request_runs_once(server: EndpointServer) -> None:
    body = {"op": "signal", "args": {"name": "approve"}, "id": secrets.token_hex(16)}
    body["at"] = time.time()
    first = _request(server, body)
    again = _request(server, body)
    assert first == again == (200, {"ok": True, "value": 1})
    assert server.calls == [{"name": "approve"}]  # type: ignore[attr-defined]
    other = _request(server, {**body, "id": secrets.token_hex(16)})
    assert other == (200, {"ok": True, "value": 2})


def test_a_request_without_an_id_or_too_old_is_refused(server: EndpointServer) -> None:
    no_id = _request(server, {"op": "signal", "args": {}, "at": time.time()})
    assert no_id == (400, {"ok": False, "error": {"message": "malformed request"}})
    old = {"op": "signal", "args": {}, "id": secrets.token_hex(16), "at": time.time() - 3600}
    status, reply = _request(server, old)
    assert status == 400 and "too old" in reply["error"]["message"]
    assert server.calls == []  # type: ignore[attr-defined]


def test_the_worker_console_stays_clean_under_bad_requests(tmp_path: Path) -> None:
    """A real ``aion worker``: garbage, hang-ups and silence print nothing on its console."""
    db = tmp_path / "aion.duckdb"
    record_fixed_histories(db)
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
        assert proc.stderr.readline().startswith("worker serving")
        info = json.loads(endpoint_file(str(db)).read_text())
        port, secret = info["port"], info["secret"]
        for raw in (
            _head(secret, "-1"),  # refused at once
            _head(secret, "50") + b"{",  # then hangs up mid-body
            b"GARBAGE\r\n\r\n",  # not HTTP
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",  # no secret
            _head(secret, "7") + b"not json",  # malformed
        ):
            sock = _connect(port)
            sock.sendall(raw)
            sock.close()  # without reading the answer
        sock = _connect(port)
        sock.sendall(_head(secret, "-1"))
        assert _status(sock)[0] == 400  # still serving after all that
        sock.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err == "worker stopped cleanly.\n"
