"""The endpoint file: where a worker advertises its port, pid and secret, and when to trust it.

A worker writes ``<db>.aion-worker.json`` beside a DuckDB file (for a
PostgreSQL URL, which has no file to sit beside, in ``~/.cache/aion/`` under
a hash of the URL), readable by its owner only. A reader trusts the file only
if it is a regular file of the current user with mode 0600: anything else may
have been planted by another local user to receive every request (and its
payload) or to answer "recorded" for things that never were.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

import attrs

from aion._endpoint._errors import EndpointError
from aion.store import is_postgres_url
from aion.store._create import pid_alive

#: The largest endpoint file read (a real one is about 150 bytes).
_MAX_FILE = 64 * 1024


@attrs.frozen(kw_only=True)
class Endpoint:
    """A running worker's address and secret, as read from its endpoint file."""

    port: int
    pid: int
    secret: str
    db: str


def endpoint_file(db: str) -> Path:
    """Where a worker serving ``db`` advertises itself (see the module docstring)."""
    if is_postgres_url(db):
        digest = hashlib.sha256(db.encode()).hexdigest()[:24]
        return Path.home() / ".cache" / "aion" / f"postgres-{digest}.aion-worker.json"
    return Path(os.path.abspath(db) + ".aion-worker.json")


def write_private(path: Path, text: str) -> None:
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


def untrusted_reason(info: os.stat_result) -> str | None:
    """Why an endpoint file with this ``fstat`` must not be trusted, or None."""
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if info.st_uid != os.getuid():
        return f"it is owned by uid {info.st_uid}, not by you (uid {os.getuid()})"
    mode = stat.S_IMODE(info.st_mode)
    if mode != 0o600:
        return f"its mode is {mode:04o}, not 0600"
    return None


def _untrusted(path: Path, reason: str) -> EndpointError:
    msg = (
        f"refusing the worker endpoint file {path}: {reason}, so another user may have planted it."
    )
    hint = (
        "remove it if no worker of yours serves this database, and keep databases in a "
        "directory only you can write."
    )
    return EndpointError(msg, hint)


def check_endpoint_file(db: str) -> str | None:
    """Why the endpoint file of ``db`` is untrusted (None if absent or trusted)."""
    path = endpoint_file(db)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    return untrusted_reason(info)


def _read_trusted(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise _untrusted(path, "it is a symbolic link") from None
        msg = f"cannot read {path}: {exc.strerror}."
        raise EndpointError(msg, "check the permissions of the database directory.") from None
    try:
        reason = untrusted_reason(os.fstat(fd))
        if reason is not None:
            raise _untrusted(path, reason)
        return os.read(fd, _MAX_FILE)
    finally:
        os.close(fd)


def read_endpoint(db: str) -> Endpoint | None:
    """The endpoint of a live worker serving ``db``, or None when there is none.

    Raises:
        aion.endpoint.EndpointError: The file exists but is not one of the
            user's own workers' (see `untrusted_reason`); nothing is sent to it.
    """
    raw = _read_trusted(endpoint_file(db))
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        endpoint = Endpoint(
            port=int(data["port"]),
            pid=int(data["pid"]),
            secret=str(data["secret"]),
            db=str(data["db"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not pid_alive(endpoint.pid):
        return None  # a worker that died without cleaning up: the file is stale
    return endpoint
