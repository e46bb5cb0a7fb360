"""`aion.Client` on DuckDB: through the running worker's loopback endpoint.

DuckDB lets one process write a file (and a writer locks out readers in other
processes), so a client cannot open a file a worker holds. A worker started
with ``aion worker`` advertises a loopback endpoint in ``<db>.aion-worker.json``
(its port, pid and a secret, mode 0600, see the CLI's ``endpoint`` module);
the client sends each operation there as one JSON POST. The file is trusted
only if it is a regular file of the current user with mode 0600, so a file
another local user planted is never sent a request.

When no worker runs, the client opens the file itself for each operation
(reads read-only; starts, signals and cancels are recorded, and run when a
worker next opens the file), as the CLI does.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aion._errors as errors
from aion import _codec
from aion._errors import AionError, ConfigurationError, StoreError
from aion.store import Append, DuckDBStore, Store, TimerInfo, WorkflowInfo

HOST = "127.0.0.1"
SECRET_HEADER = "X-Aion-Secret"
_MAX_FILE = 64 * 1024


def endpoint_path(db: str) -> Path:
    """Where a worker serving the DuckDB file ``db`` advertises itself."""
    return Path(os.path.abspath(db) + ".aion-worker.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_endpoint(db: str) -> tuple[int, int, str] | None:
    """``(port, pid, secret)`` of a live worker serving ``db``, or None.

    Raises:
        aion.ConfigurationError: The endpoint file is not one of the user's own
            workers' (a link, another owner, a looser mode): nothing is sent to it.
    """
    path = endpoint_path(db)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        msg = f"refusing the worker endpoint file {path}: {why}."
        raise ConfigurationError(msg) from None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.getuid()
            or stat.S_IMODE(info.st_mode) != 0o600
        ):
            msg = (
                f"refusing the worker endpoint file {path}: it is not a mode-0600 regular file "
                "of yours, so another user may have planted it."
            )
            raise ConfigurationError(msg)
        raw = os.read(fd, _MAX_FILE)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw.decode("utf-8"))
        port, pid, secret = int(data["port"]), int(data["pid"]), str(data["secret"])
    except (ValueError, KeyError, TypeError):
        return None
    return (port, pid, secret) if _alive(pid) else None


def _remote_error(error: dict[str, Any]) -> AionError:
    """The aion exception a worker reported, rebuilt here (AionError when not one of ours)."""
    message = str(error.get("message", "the worker reported an error"))
    cls = getattr(errors, str(error.get("type", "")), None)
    if isinstance(cls, type) and issubclass(cls, AionError):
        with contextlib.suppress(TypeError):
            return cls(message)
    return AionError(message)


class EndpointClient:
    """Sends operations to the worker serving a DuckDB file, or opens the file when none does.

    Args:
        db: The DuckDB file.
        timeout: Seconds to wait for the worker's answer.
    """

    def __init__(self, db: str, timeout: float = 60.0) -> None:
        self.db = db
        self.timeout = timeout

    def call(self, op: str, **args: Any) -> tuple[bool, Any]:
        """``(True, value)`` from the worker, or ``(False, None)`` when none serves the file."""
        endpoint = read_endpoint(self.db)
        if endpoint is None:
            return False, None
        port, pid, secret = endpoint
        request = {"op": op, "args": args, "id": secrets.token_hex(16), "at": time.time()}
        conn = http.client.HTTPConnection(HOST, port, timeout=self.timeout)
        try:
            conn.request(
                "POST",
                "/",
                body=json.dumps(request).encode(),
                headers={SECRET_HEADER: secret, "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            status = response.status
            data = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as exc:
            msg = (
                f"the worker serving {self.db!r} (pid {pid}) did not answer on port {port} ({exc})."
            )
            raise StoreError(msg) from None
        finally:
            conn.close()
        if status != 200:
            message = (data.get("error") or {}).get("message", f"HTTP {status}")
            msg_0 = f"the worker serving {self.db!r} refused the request: {message}."
            raise StoreError(msg_0)
        if not data.get("ok"):
            raise _remote_error(data.get("error") or {})
        return True, data.get("value")

    @contextlib.contextmanager
    def opened(self, *, write: bool) -> Iterator[Store]:
        """The file itself, for one operation while no worker serves it."""
        if not write and not os.path.exists(self.db):
            msg = f"there is no aion database at {self.db!r}."
            raise errors.WorkflowNotFound(msg)
        store = DuckDBStore(self.db, read_only=not write)
        try:
            yield store
        finally:
            store.close()


def infos(raw: list[Any]) -> list[WorkflowInfo]:
    """Visibility records as the worker sent them."""
    return [_codec.CONVERTER.structure(item, WorkflowInfo) for item in raw]


def description_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """A `WorkflowDescription`'s fields from the worker's JSON."""
    out = dict(raw)
    out["timers"] = tuple(_codec.CONVERTER.structure(t, TimerInfo) for t in out.get("timers", ()))
    out["pending"] = tuple(out.get("pending", ()))
    for key in ("started_at", "closed_at"):
        if out.get(key) is not None:
            out[key] = _codec.CONVERTER.structure(out[key], datetime)
    return out


def append_one(store: Store, workflow_id: str, event_cls: Any, **fields: Any) -> None:
    """Record one event after a workflow's head (the file opened directly)."""
    info = store.info(workflow_id)
    if info is None:
        msg = f"no workflow with id {workflow_id!r} in this store."
        raise errors.WorkflowNotFound(msg)
    if info.status in ("completed", "failed", "cancelled"):
        what = (
            "signal"
            if "name" in fields
            else "terminate request"
            if fields.get("terminate")
            else "cancel request"
        )
        msg = f"workflow {workflow_id!r} is {info.status} and cannot take a {what}."
        raise errors.WorkflowClosed(msg)
    event = event_cls(
        seq=info.last_seq + 1, run_id=info.run_id, recorded_at=datetime.now(UTC), **fields
    )
    store.append([Append(workflow_id=workflow_id, expected_seq=info.last_seq, events=[event])])
