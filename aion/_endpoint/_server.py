"""`EndpointServer`: the loopback listener a worker answers other processes on.

The worker listens on 127.0.0.1 only (an ephemeral port) and publishes its
endpoint file once it answers. A request must carry the file's secret;
anything else is refused with 403, so another local user who can reach the
port still cannot drive the worker. A connection silent for `IDLE_TIMEOUT`
seconds is closed, and a bad request or a client hanging up never prints on
the worker's console.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aion._endpoint._errors import EndpointError
from aion._endpoint._file import endpoint_file, write_private
from aion._endpoint._nonces import RequestLog
from aion.store import is_postgres_url

HOST = "127.0.0.1"
SECRET_HEADER = "X-Aion-Secret"
#: Requests larger than this are refused (the endpoint only carries control calls and histories).
MAX_BODY = 64 * 1024 * 1024
#: Seconds a connection may stay silent (between requests, or mid-request) before it is closed.
IDLE_TIMEOUT = 30.0

#: One operation: the request's JSON ``args`` in, a JSON value out (an exception is sent back).
Handler = Callable[[dict[str, Any]], Any]
#: How the serving tool classifies an exception its handler raised: ``(code, hint)``.
Classify = Callable[[BaseException], tuple[int | None, str]]


def _unclassified(exc: BaseException) -> tuple[int | None, str]:
    return None, ""


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"message": message}}


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        """Give the connection its idle timeout before anything is read from it."""
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib name
        """Stay quiet: the worker's console is for the worker's own messages."""

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, default=str).encode()
        if status >= 400:
            self.close_connection = True  # an unread body must not be taken as the next request
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Only POST carries requests; say so rather than hang."""
        self._reply(405, _error("use POST"))

    def _length(self) -> int | None:
        """The body length, or None after refusing a missing, malformed or too large one."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._reply(400, _error("chunked requests are not accepted; send Content-Length"))
            return None
        header = self.headers.get("Content-Length")
        if header is None:
            self._reply(411, _error("Content-Length is required"))
            return None
        text = header.strip()
        if not (text.isascii() and text.isdigit()):
            self._reply(400, _error("Content-Length must be a non-negative integer"))
            return None
        if len(text) > 12 or int(text) > MAX_BODY:
            self._reply(413, _error("request too large"))
            return None
        return int(text)

    def do_POST(self) -> None:
        """Check the secret and the length, then run one operation, at most once per id."""
        given = self.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.server.secret.encode()):
            self._reply(403, _error("wrong or missing secret"))
            return
        length = self._length()
        if length is None:
            return
        raw = self.rfile.read(length)
        if len(raw) < length:
            self.close_connection = True  # the client hung up mid-body: nothing to answer
            return
        try:
            request = json.loads(raw)
            op = str(request["op"])
            args = dict(request.get("args") or {})
            request_id = request["id"]
            sent_at = request["at"]
            if not isinstance(request_id, str) or not 16 <= len(request_id) <= 128:
                raise TypeError
            if type(sent_at) not in (int, float):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self._reply(400, _error("malformed request"))
            return
        earlier = self.server.requests.begin(request_id, float(sent_at))
        if earlier is not None:
            self._reply(*earlier)
            return
        status, body = self._run(op, args)
        self.server.requests.finish(request_id, (status, body))
        self._reply(status, body)

    def _run(self, op: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handler = self.server.handlers.get(op)
        if handler is None:
            return 404, _error(f"unknown operation {op!r}")
        try:
            value = handler(args)
        except Exception as exc:
            code, hint = self.server.classify(exc)
            error = {"type": type(exc).__name__, "message": str(exc), "code": code, "hint": hint}
            return 200, {"ok": False, "error": error}
        return 200, {"ok": True, "value": value}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, secret: str, handlers: dict[str, Handler], idle_timeout: float, classify: Classify
    ) -> None:
        super().__init__((HOST, 0), _RequestHandler)
        self.secret = secret
        self.handlers = handlers
        self.idle_timeout = idle_timeout
        self.classify = classify
        self.requests = RequestLog()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or sent garbage is its problem: no traceback on the console."""


class EndpointServer:
    """Serves ``handlers`` on 127.0.0.1 in a background thread and advertises them.

    Args:
        db: The database the worker serves (where the endpoint file goes follows from it).
        handlers: Operation name to function of the request's ``args``.
        idle_timeout: Seconds a connection may stay silent before it is closed.
        classify: ``(code, hint)`` sent with an exception a handler raised (the
            aion CLI sends its exit code), so the caller reports it as the
            worker would have; by default none.
    """

    def __init__(
        self,
        db: str,
        handlers: dict[str, Handler],
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        classify: Classify = _unclassified,
    ) -> None:
        self.db = db
        self.secret = secrets.token_urlsafe(32)
        self._server = _Server(self.secret, handlers, idle_timeout, classify)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="aion-endpoint", daemon=True
        )

    def start(self) -> None:
        """Start answering, then publish the endpoint file (so no client sees a dead port).

        Raises:
            aion.endpoint.EndpointError: The file cannot be written.
        """
        self._thread.start()
        data = {
            "port": self.port,
            "pid": os.getpid(),
            "secret": self.secret,
            "db": self.db if is_postgres_url(self.db) else os.path.abspath(self.db),
        }
        path = endpoint_file(self.db)
        try:
            write_private(path, json.dumps(data))
        except OSError as exc:
            msg = f"cannot publish the worker endpoint at {path}: {exc.strerror}."
            hint = "remove that file (it is not yours), or serve a database in your own directory."
            raise EndpointError(msg, hint) from None

    def stop(self) -> None:
        """Withdraw the endpoint file (if it is still this process's), then stop answering."""
        path = endpoint_file(self.db)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
        self._server.shutdown()
        self._server.server_close()
