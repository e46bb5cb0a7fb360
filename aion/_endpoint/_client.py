"""`EndpointClient`: one operation is one JSON POST to the worker's loopback endpoint.

The request is ``{"op": NAME, "args": {...}, "id": RANDOM, "at": UNIX_TIME}``
(the id and time let the worker run each request once), answered by
``{"ok": true, "value": ...}`` or ``{"ok": false, "error": {...}}``.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from typing import Any

from aion._endpoint._errors import EndpointError, RemoteError
from aion._endpoint._file import Endpoint, endpoint_file
from aion._endpoint._server import HOST, SECRET_HEADER


class EndpointClient:
    """Calls operations on a running worker.

    Args:
        endpoint: The worker, as `read_endpoint` found it.
        timeout: Seconds to wait for its answer.
    """

    def __init__(self, endpoint: Endpoint, timeout: float = 60.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def call(self, op: str, **args: Any) -> Any:
        """Run ``op`` in the worker and return its value.

        Raises:
            aion.endpoint.EndpointError: The worker did not answer, or refused the secret.
            aion.endpoint.RemoteError: The operation raised in the worker.
        """
        request = {"op": op, "args": args, "id": secrets.token_hex(16), "at": time.time()}
        body = json.dumps(request).encode()
        where = self.endpoint
        conn = http.client.HTTPConnection(HOST, where.port, timeout=self.timeout)
        try:
            conn.request(
                "POST",
                "/",
                body=body,
                headers={SECRET_HEADER: where.secret, "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            status = response.status
            data = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as exc:
            msg = (
                f"the worker serving {where.db!r} (pid {where.pid}) did not answer "
                f"on {HOST}:{where.port} ({exc})."
            )
            raise EndpointError(msg, "is the worker still running?") from None
        finally:
            conn.close()
        if status == 403:
            msg = f"the worker serving {where.db!r} refused the request: wrong or missing secret."
            raise EndpointError(msg, f"{endpoint_file(where.db)} is stale or was replaced; retry.")
        if not data.get("ok"):
            error = data.get("error") or {}
            code = error.get("code")
            raise RemoteError(
                str(error.get("message", f"the worker answered HTTP {status}")),
                type_name=str(error.get("type", "Error")),
                code=code if isinstance(code, int) else None,
                hint=str(error.get("hint") or ""),
            )
        return data.get("value")
