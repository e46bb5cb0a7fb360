"""History stores: the `Store` protocol and its implementations.

`MemoryStore`, `DuckDBStore` (the default) and `PostgresStore` (``pip install
aion[postgres]``), plus the worker-session records the PostgreSQL store's claims
use. `DuckDBStore` and `PostgresStore` are imported on first use: importing
``duckdb`` costs about 0.1 s of CPU, which a process that never opens a DuckDB
file (a replay, a memory store, a PostgreSQL worker) should not pay, and aion
runs without psycopg.
"""

import importlib
from typing import TYPE_CHECKING, Any

from aion._errors import FencedError as FencedError
from aion._errors import LeaseExpired as LeaseExpired
from aion.store._memory import MemoryStore as MemoryStore
from aion.store._open import open_store as open_store
from aion.store._postgres_leases import Claim as Claim
from aion.store._postgres_leases import Fence as Fence
from aion.store._postgres_leases import InboxMessage as InboxMessage
from aion.store._postgres_leases import Session as Session
from aion.store._postgres_url import is_postgres_url as is_postgres_url
from aion.store._postgres_url import redact as redact_url
from aion.store._protocol import Append as Append
from aion.store._protocol import Store as Store
from aion.store._protocol import TimerInfo as TimerInfo
from aion.store._protocol import WorkflowInfo as WorkflowInfo

if TYPE_CHECKING:
    from aion.store._duckdb import SCHEMA_VERSION as SCHEMA_VERSION
    from aion.store._duckdb import DuckDBStore as DuckDBStore
    from aion.store._postgres import PostgresStore as PostgresStore

#: Names whose modules import a database driver, loaded on first use.
_LAZY = {
    "DuckDBStore": "aion.store._duckdb",
    "SCHEMA_VERSION": "aion.store._duckdb",
    "PostgresStore": "aion.store._postgres",
}

__all__ = [
    "SCHEMA_VERSION",
    "Append",
    "Claim",
    "DuckDBStore",
    "Fence",
    "FencedError",
    "InboxMessage",
    "LeaseExpired",
    "MemoryStore",
    "PostgresStore",
    "Session",
    "Store",
    "TimerInfo",
    "WorkflowInfo",
    "is_postgres_url",
    "open_store",
    "redact_url",
]


def __getattr__(name: str) -> Any:
    """Import a driver-backed name (see `_LAZY`) the first time it is used."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'aion.store' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted({*globals(), *_LAZY})
