"""The loopback control endpoint a running ``aion worker`` serves.

DuckDB lets one process write a file, and a writer locks out even readers
in other processes. So while a worker runs, every other ``aion`` command talks
to it instead: the worker listens on 127.0.0.1 only (an ephemeral port) and
writes ``<db>.aion-worker.json`` beside the database with its port, its pid
and a random secret, readable by its owner only (mode 0600). A request must
carry that secret; anything else is refused with 403, so another local user
who can reach the port still cannot drive the worker.

The protocol is one JSON object per POST, ``{"op": NAME, "args": {...},
"id": RANDOM, "at": UNIX_TIME}`` (the id and time let the worker run each
request once, see `nonces`), with a ``Content-Length`` of at most
`MAX_BODY`, answered by ``{"ok": true, "value": ...}`` or ``{"ok": false,
"error": {...}}``. A connection silent for `IDLE_TIMEOUT` seconds is closed,
and a bad request or a client hanging up never prints on the worker's console.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import http.client
import json
import os
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

from aion.store import is_postgres_url

from .errors import EXIT_STORE, CliError, RemoteError, classify
from .nonces import RequestLog

HOST = "127.0.0.1"
SECRET_HEADER = "X-Aion-Secret"
#: Requests larger than this are refused (the endpoint only carries control calls and histories).
MAX_BODY = 64 * 1024 * 1024
#: Seconds a connection may stay silent (between requests, or mid-request) before it is closed.
IDLE_TIMEOUT = 30.0

Handler = Callable[[dict[str, Any]], Any]


def endpoint_file(db: str) -> Path:
    """Where a worker serving ``db`` advertises itself.

    Next to a DuckDB file; for a PostgreSQL URL (no file to sit next to) in the
    user's own ``~/.cache/aion/``, named by a hash of the URL.
    """
    if is_postgres_url(db):
        digest = hashlib.sha256(db.encode()).hexdigest()[:24]
        return Path.home() / ".cache" / "aion" / f"postgres-{digest}.aion-worker.json"
    return Path(os.path.abspath(db) + ".aion-worker.json")


@attrs.frozen
class Endpoint:
    """A running worker's address and secret, as read from its endpoint file."""

    port: int
    pid: int
    secret: str
    db: str


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` so that only the owner can ever read it (no window with looser modes).

    `tempfile.mkstemp` creates the temporary file with mode 0600 and
    ``O_CREAT | O_EXCL`` beside the target, so a symlink another user planted
    at a predictable name is never followed; the rename then replaces the
    target itself, never what a link there points to.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: The largest endpoint file read (a real one is about 150 bytes).
_MAX_FILE = 64 * 1024


def _open_endpoint_file(path: Path) -> tuple[int, os.stat_result] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise _untrusted(path, "it is a symbolic link") from None
        msg = f"cannot read {path}: {exc.strerror}."
        raise CliError(
            msg, "check the permissions of the database directory.", EXIT_STORE
        ) from None
    return fd, os.fstat(fd)


def untrusted_reason(info: os.stat_result) -> str | None:
    """Why an endpoint file with this ``fstat`` must not be trusted, or None.

    Only a regular file owned by the current user with mode 0600 can have been
    written by one of the user's own workers: anything else may have been
    planted by another local user to receive every request (and its payload)
    or to answer "recorded" for things that never were.
    """
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if info.st_uid != os.getuid():
        return f"it is owned by uid {info.st_uid}, not by you (uid {os.getuid()})"
    mode = stat.S_IMODE(info.st_mode)
    if mode != 0o600:
        return f"its mode is {mode:04o}, not 0600"
    return None


def _untrusted(path: Path, reason: str) -> CliError:
    msg = (
        f"refusing the worker endpoint file {path}: {reason}, so another user may have planted it."
    )
    hint = (
        "remove it if no worker of yours serves this database, and keep databases in a "
        "directory only you can write."
    )
    return CliError(msg, hint, EXIT_STORE)


def check_endpoint_file(db: str) -> str | None:
    """Why the endpoint file beside ``db`` is untrusted (None if absent or trusted)."""
    path = endpoint_file(db)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    return untrusted_reason(info)


def read_endpoint(db: str) -> Endpoint | None:
    """The endpoint of a worker serving ``db``, or None when there is no live one.

    Raises:
        CliError: The file exists but is not one of the user's own workers'
            (see `untrusted_reason`); nothing is sent to it.
    """
    path = endpoint_file(db)
    opened = _open_endpoint_file(path)
    if opened is None:
        return None
    fd, info = opened
    try:
        reason = untrusted_reason(info)
        if reason is not None:
            raise _untrusted(path, reason)
        raw = os.read(fd, _MAX_FILE)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw.decode("utf-8"))
        endpoint = Endpoint(
            int(data["port"]), int(data["pid"]), str(data["secret"]), str(data["db"])
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not _alive(endpoint.pid):
        return None  # a worker that died without cleaning up: the file is stale
    return endpoint


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
            code, hint = classify(exc)
            error = {"type": type(exc).__name__, "message": str(exc), "code": code, "hint": hint}
            return 200, {"ok": False, "error": error}
        return 200, {"ok": True, "value": value}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, secret: str, handlers: dict[str, Handler], idle_timeout: float) -> None:
        super().__init__((HOST, 0), _RequestHandler)
        self.secret = secret
        self.handlers = handlers
        self.idle_timeout = idle_timeout
        self.requests = RequestLog()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or sent garbage is its problem: no traceback on the console."""


class EndpointServer:
    """Serves ``handlers`` on 127.0.0.1 in a background thread and advertises them.

    Args:
        db: The database the worker serves (the endpoint file goes beside it).
        handlers: Operation name to function of the request's ``args``.
        idle_timeout: Seconds a connection may stay silent before it is closed.
    """

    def __init__(
        self, db: str, handlers: dict[str, Handler], *, idle_timeout: float = IDLE_TIMEOUT
    ) -> None:
        self.db = db
        self.secret = secrets.token_urlsafe(32)
        self._server = _Server(self.secret, handlers, idle_timeout)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="aion-endpoint", daemon=True
        )

    def start(self) -> None:
        """Start answering, then publish the endpoint file (so no client sees a dead port)."""
        self._thread.start()
        data = {
            "port": self.port,
            "pid": os.getpid(),
            "secret": self.secret,
            "db": self.db if is_postgres_url(self.db) else os.path.abspath(self.db),
        }
        path = endpoint_file(self.db)
        try:
            _write_private(path, json.dumps(data))
        except OSError as exc:
            msg = f"cannot publish the worker endpoint at {path}: {exc.strerror}."
            hint = "remove that file (it is not yours), or serve a database in your own directory."
            raise CliError(msg, hint, EXIT_STORE) from None

    def stop(self) -> None:
        """Withdraw the endpoint file, then stop answering."""
        path = endpoint_file(self.db)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
        self._server.shutdown()
        self._server.server_close()


class EndpointClient:
    """Calls operations on a running worker."""

    def __init__(self, endpoint: Endpoint, timeout: float = 60.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def call(self, op: str, **args: Any) -> Any:
        """Run ``op`` in the worker and return its value, or raise its error here."""
        request = {"op": op, "args": args, "id": secrets.token_hex(16), "at": time.time()}
        body = json.dumps(request).encode()
        conn = http.client.HTTPConnection(HOST, self.endpoint.port, timeout=self.timeout)
        try:
            conn.request(
                "POST",
                "/",
                body=body,
                headers={SECRET_HEADER: self.endpoint.secret, "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            status = response.status
            data = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as exc:
            msg = (
                f"the worker serving {self.endpoint.db!r} (pid {self.endpoint.pid}) did not answer "
                f"on 127.0.0.1:{self.endpoint.port} ({exc})."
            )
            raise RemoteError(
                msg, type_name="EndpointError", code=EXIT_STORE, hint="is the worker still running?"
            ) from None
        finally:
            conn.close()
        if status == 403:
            msg = (
                f"the worker serving {self.endpoint.db!r} refused the request: "
                "wrong or missing secret."
            )
            hint = f"{endpoint_file(self.endpoint.db)} is stale or was replaced; retry."
            raise RemoteError(msg, type_name="Forbidden", code=EXIT_STORE, hint=hint)
        if not data.get("ok"):
            error = data.get("error") or {}
            raise RemoteError(
                str(error.get("message", f"the worker answered HTTP {status}")),
                type_name=str(error.get("type", "Error")),
                code=int(error.get("code", EXIT_STORE)),
                hint=str(error.get("hint", "")),
            )
        return data.get("value")
