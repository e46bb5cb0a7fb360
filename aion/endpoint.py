"""The worker endpoint protocol: how other processes talk to a running worker.

DuckDB lets one process write a file, and a writer locks out even readers in
other processes. So while a worker (``aion worker``, ``aion run``) holds a
file, `aion.Client` and the ``aion`` CLI send it each operation instead: the
worker serves an `EndpointServer` on 127.0.0.1 and publishes
``<db>.aion-worker.json`` (port, pid, a random secret; mode 0600) beside the
database; a caller reads it with `read_endpoint` (trusting only the user's own
mode-0600 regular file) and an `EndpointClient` POSTs one JSON request per
operation, carrying the secret. Each request has a random id and its send
time, so a replayed request runs at most once. This module is what tools
build on (the CLI serves and calls through it, never through ``aion._*``).

Errors: `EndpointError` (a `aion.StoreError`) when the worker cannot be
asked (untrusted file, no answer, wrong secret); `RemoteError` when it was
asked and its operation raised (``type_name``, the server's ``code`` and
``hint``; `RemoteError.rebuilt` gives the aion exception it was).
"""

from aion._endpoint._client import EndpointClient
from aion._endpoint._decode import description_fields, workflow_infos
from aion._endpoint._errors import EndpointError, RemoteError
from aion._endpoint._file import (
    Endpoint,
    check_endpoint_file,
    endpoint_file,
    read_endpoint,
    untrusted_reason,
)
from aion._endpoint._server import (
    HOST,
    IDLE_TIMEOUT,
    MAX_BODY,
    SECRET_HEADER,
    Classify,
    EndpointServer,
    Handler,
)

__all__ = [
    "HOST",
    "IDLE_TIMEOUT",
    "MAX_BODY",
    "SECRET_HEADER",
    "Classify",
    "Endpoint",
    "EndpointClient",
    "EndpointError",
    "EndpointServer",
    "Handler",
    "RemoteError",
    "check_endpoint_file",
    "description_fields",
    "endpoint_file",
    "read_endpoint",
    "untrusted_reason",
    "workflow_infos",
]
