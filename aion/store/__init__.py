"""History stores: the `Store` protocol, `MemoryStore` and `DuckDBStore` (the default)."""

from aion.store._duckdb import SCHEMA_VERSION as SCHEMA_VERSION
from aion.store._duckdb import DuckDBStore as DuckDBStore
from aion.store._memory import MemoryStore as MemoryStore
from aion.store._protocol import Append as Append
from aion.store._protocol import Store as Store
from aion.store._protocol import TimerInfo as TimerInfo
from aion.store._protocol import WorkflowInfo as WorkflowInfo

__all__ = [
    "SCHEMA_VERSION",
    "Append",
    "DuckDBStore",
    "MemoryStore",
    "Store",
    "TimerInfo",
    "WorkflowInfo",
]
