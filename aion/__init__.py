"""aion: a durable workflow engine for Python.

Layout (everything public is re-exported here; the rest is private), from
the ground up (a module imports only those above it in this list; a test
pins that no package holds an import circle):

* ``_errors``      the exception hierarchy (one root: `AionError`)
* ``_events``      the history model (frozen event classes, `Decision`, the
                   status and timer projections of a history)
* ``_clock``       where time comes from (`SystemClock`, `ManualClock`)
* ``_rowcodec``    the fast path between events and store rows
* ``_definitions`` ``@workflow`` / ``@activity``, `RetryPolicy`, the registry
* ``_describe``    one-line events and pending commands, worded once
* ``_commands``    the commands a workflow yields (frozen data)
* ``_vocabulary``  the functions that make them (`call`, `sleep`, `collect_all`, ...)
* ``_codec``       the one cattrs converter and JSON
* ``store``        history stores (`DuckDBStore`, `PostgresStore`, `MemoryStore`)
* ``_endpoint``    the worker endpoint protocol, both halves (public face: ``endpoint``)
* ``_interpreter`` the pure interpreter that drives generators from events
* ``_replay``      offline replay (`replay`, `Replayer`)
* ``_engine``      the live engine: `Engine` over a `Runtime` (the step loop),
                   recovery, residency, activities, handles
* ``_cluster``     many engines on one PostgreSQL store (sessions, fences, inbox)
* ``_client``      `Client`, for processes that run no worker
* ``testing``      the determinism test kit

Public modules beside this facade, for reading histories and building tools
(the CLI uses nothing else):

* ``events``       the history model: the event classes `Engine.history()` returns
* ``codec``        the JSON codec values and events are recorded with
* ``endpoint``     the worker endpoint protocol (a worker's loopback listener and its client)
* ``describe``     one-line events and workflow descriptions, worded as aion does
* ``interpreter``  the interpreter, to step a workflow through its history
* ``fixtures``     replay fixture files (load, write, check)
"""

import importlib
from typing import TYPE_CHECKING, Any

from aion._clock import Clock as Clock
from aion._clock import ManualClock as ManualClock
from aion._clock import SystemClock as SystemClock
from aion._cluster._open import register as _register_cluster
from aion._commands import ChildHandle as ChildHandle
from aion._commands import Command as Command
from aion._commands import ParentClose as ParentClose
from aion._commands import WorkflowGen as WorkflowGen
from aion._definitions import ActivityDefinition as ActivityDefinition
from aion._definitions import RetryPolicy as RetryPolicy
from aion._definitions import activity as activity
from aion._definitions import workflow as workflow
from aion._errors import ActivityError as ActivityError
from aion._errors import ActivityTimeout as ActivityTimeout
from aion._errors import AionError as AionError
from aion._errors import Cancelled as Cancelled
from aion._errors import ChildWorkflowError as ChildWorkflowError
from aion._errors import CodecError as CodecError
from aion._errors import ConfigurationError as ConfigurationError
from aion._errors import ForeignStoreError as ForeignStoreError
from aion._errors import HistoryError as HistoryError
from aion._errors import InternalError as InternalError
from aion._errors import NondeterminismError as NondeterminismError
from aion._errors import NotPicklableError as NotPicklableError
from aion._errors import NotRegisteredError as NotRegisteredError
from aion._errors import QueryError as QueryError
from aion._errors import SequenceConflict as SequenceConflict
from aion._errors import SignalDeliveryError as SignalDeliveryError
from aion._errors import StoreConflictError as StoreConflictError
from aion._errors import StoreCorruptedError as StoreCorruptedError
from aion._errors import StoreError as StoreError
from aion._errors import StoreInvalidatedError as StoreInvalidatedError
from aion._errors import StoreLockedError as StoreLockedError
from aion._errors import Timeout as Timeout
from aion._errors import WorkflowAlreadyExists as WorkflowAlreadyExists
from aion._errors import WorkflowArgumentError as WorkflowArgumentError
from aion._errors import WorkflowBlocked as WorkflowBlocked
from aion._errors import WorkflowCancelledError as WorkflowCancelledError
from aion._errors import WorkflowClosed as WorkflowClosed
from aion._errors import WorkflowFailedError as WorkflowFailedError
from aion._errors import WorkflowNotFound as WorkflowNotFound
from aion._errors import WorkflowStalledError as WorkflowStalledError
from aion._errors import WorkflowYieldError as WorkflowYieldError
from aion._vocabulary import await_child as await_child
from aion._vocabulary import call as call
from aion._vocabulary import collect_all as collect_all
from aion._vocabulary import collect_map as collect_map
from aion._vocabulary import collect_race as collect_race
from aion._vocabulary import continue_as_new as continue_as_new
from aion._vocabulary import now as now
from aion._vocabulary import on_query as on_query
from aion._vocabulary import patched as patched
from aion._vocabulary import random as random
from aion._vocabulary import receive_signal as receive_signal
from aion._vocabulary import send_signal as send_signal
from aion._vocabulary import sleep as sleep
from aion._vocabulary import start_child as start_child
from aion._vocabulary import uuid4 as uuid4
from aion._vocabulary import with_timeout as with_timeout

if TYPE_CHECKING:
    from aion import events as events
    from aion._client import Client as Client
    from aion._engine import ActivityExecutor as ActivityExecutor
    from aion._engine import ActivityInfo as ActivityInfo
    from aion._engine import Engine as Engine
    from aion._engine import FuturesExecutor as FuturesExecutor
    from aion._engine import WorkflowDescription as WorkflowDescription
    from aion._engine import WorkflowHandle as WorkflowHandle
    from aion._engine import activity_info as activity_info
    from aion._engine import run_attempt as run_attempt
    from aion._replay import Replayer as Replayer
    from aion._replay import ReplayResult as ReplayResult
    from aion._replay import ReplaySummary as ReplaySummary
    from aion._replay import replay as replay
    from aion.store import DuckDBStore as DuckDBStore
    from aion.store import MemoryStore as MemoryStore

#: Names loaded on first use: the engine, replay and the stores pull in DuckDB,
#: asyncio and the interpreter, which a tool that only reads histories (the
#: `aion` CLI listing a file, a script decoding events) never needs.
_LAZY = {
    "Client": "aion._client",
    "ActivityExecutor": "aion._engine",
    "ActivityInfo": "aion._engine",
    "Engine": "aion._engine",
    "FuturesExecutor": "aion._engine",
    "WorkflowDescription": "aion._engine",
    "WorkflowHandle": "aion._engine",
    "activity_info": "aion._engine",
    "run_attempt": "aion._engine",
    "Replayer": "aion._replay",
    "ReplayResult": "aion._replay",
    "ReplaySummary": "aion._replay",
    "replay": "aion._replay",
    "DuckDBStore": "aion.store",
    "MemoryStore": "aion.store",
}

#: Submodules `aion.<name>` reaches after a plain `import aion` (``aion.events.WorkflowStarted``),
#: imported on first use: the event classes alone are a third of `import aion`.
_SUBMODULES = frozenset(
    {"events", "store", "codec", "describe", "interpreter", "fixtures", "testing"}
)


def __getattr__(name: str) -> Any:
    """Import a lazily loaded public name (see `_LAZY`) the first time it is used."""
    if name in _SUBMODULES:  # `import aion` then `aion.store.Fence`, as before
        return importlib.import_module(f"aion.{name}")
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'aion' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

# The layers are wired here: an engine on a PostgreSQL URL joins the cluster (a layer
# above the engine, which it never imports); registering loads nothing.
_register_cluster()

__all__ = [
    "ActivityDefinition",
    "ActivityError",
    "ActivityExecutor",
    "ActivityInfo",
    "ActivityTimeout",
    "AionError",
    "Cancelled",
    "ChildHandle",
    "ChildWorkflowError",
    "Client",
    "Clock",
    "CodecError",
    "Command",
    "ConfigurationError",
    "DuckDBStore",
    "Engine",
    "ForeignStoreError",
    "FuturesExecutor",
    "HistoryError",
    "InternalError",
    "ManualClock",
    "MemoryStore",
    "NondeterminismError",
    "NotPicklableError",
    "NotRegisteredError",
    "ParentClose",
    "QueryError",
    "ReplayResult",
    "ReplaySummary",
    "Replayer",
    "RetryPolicy",
    "SequenceConflict",
    "SignalDeliveryError",
    "StoreConflictError",
    "StoreCorruptedError",
    "StoreError",
    "StoreInvalidatedError",
    "StoreLockedError",
    "SystemClock",
    "Timeout",
    "WorkflowAlreadyExists",
    "WorkflowArgumentError",
    "WorkflowBlocked",
    "WorkflowCancelledError",
    "WorkflowClosed",
    "WorkflowDescription",
    "WorkflowFailedError",
    "WorkflowGen",
    "WorkflowHandle",
    "WorkflowNotFound",
    "WorkflowStalledError",
    "WorkflowYieldError",
    "activity",
    "activity_info",
    "await_child",
    "call",
    "collect_all",
    "collect_map",
    "collect_race",
    "continue_as_new",
    "now",
    "on_query",
    "patched",
    "random",
    "receive_signal",
    "replay",
    "run_attempt",
    "send_signal",
    "sleep",
    "start_child",
    "uuid4",
    "with_timeout",
    "workflow",
]
