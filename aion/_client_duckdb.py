"""`aion.Client` on a DuckDB file: the worker's endpoint, or the file while no worker runs.

DuckDB lets one process write a file (and a writer locks out readers in
other processes), so a client cannot open a file a worker holds: while one
runs, each operation goes to its endpoint (`aion.endpoint`). When none runs,
the client opens the file itself for each operation (reads read-only;
starts, signals and cancels are recorded, and run when a worker next opens
the file), as the CLI does.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from aion import _codec
from aion._client_args import start_fields
from aion._definitions import Registry
from aion._endpoint._client import EndpointClient
from aion._endpoint._decode import description_fields, workflow_infos
from aion._endpoint._errors import RemoteError
from aion._endpoint._file import read_endpoint
from aion._engine._handle import WorkflowDescription, describe_workflow
from aion._engine._results import final_outcome
from aion._errors import (
    NotRegisteredError,
    QueryError,
    WorkflowAlreadyExists,
    WorkflowClosed,
    WorkflowNotFound,
)
from aion._events import TERMINAL_STATUSES, CancelRequested, Event, SignalReceived, WorkflowStarted
from aion._replay import replay
from aion.store import Append, DuckDBStore, Store, WorkflowInfo

#: How often a waiting `result` asks again (DuckDB has no notifications across processes).
POLL_SECONDS = 0.2


def _append_one(store: Store, workflow_id: str, event_cls: Any, **fields: Any) -> None:
    """Record one event after a workflow's head (the file opened directly)."""
    info = store.info(workflow_id)
    if info is None:
        msg = f"no workflow with id {workflow_id!r} in this store."
        raise WorkflowNotFound(msg)
    if info.status in TERMINAL_STATUSES:
        what = (
            "signal"
            if "name" in fields
            else "terminate request"
            if fields.get("terminate")
            else "cancel request"
        )
        msg = f"workflow {workflow_id!r} is {info.status} and cannot take a {what}."
        raise WorkflowClosed(msg)
    event = event_cls(
        seq=info.last_seq + 1, run_id=info.run_id, recorded_at=datetime.now(UTC), **fields
    )
    store.append([Append(workflow_id=workflow_id, expected_seq=info.last_seq, events=[event])])


class DuckDBClient:
    """The DuckDB half of `aion.Client` (see the module docstring)."""

    def __init__(self, db: str, registry: Registry, timeout: float = 60.0) -> None:
        self.db = db
        self.registry = registry
        self.timeout = timeout

    def close(self) -> None:
        """Nothing to release: each call is its own connection."""

    def _call(self, op: str, **args: Any) -> tuple[bool, Any]:
        """``(True, value)`` from the worker, or ``(False, None)`` when none serves the file."""
        endpoint = read_endpoint(self.db)
        if endpoint is None:
            return False, None
        try:
            return True, EndpointClient(endpoint, self.timeout).call(op, **args)
        except RemoteError as exc:
            raise exc.rebuilt() from None

    @contextlib.contextmanager
    def _opened(self, *, write: bool) -> Iterator[Store]:
        """The file itself, for one operation while no worker serves it."""
        if not write and not os.path.exists(self.db):
            msg = f"there is no aion database at {self.db!r}."
            raise WorkflowNotFound(msg)
        store = DuckDBStore(self.db, read_only=not write)
        try:
            yield store
        finally:
            store.close()

    def start(self, workflow: Any, args: tuple[Any, ...], workflow_id: str | None) -> str:
        name, json_args, code = start_fields(self.registry, workflow, args)
        served, value = self._call("start", workflow=name, args=json_args, workflow_id=workflow_id)
        if served:
            return str(value)
        workflow_id = workflow_id or str(uuid.uuid4())
        with self._opened(write=True) as store:
            existing = store.info(workflow_id)
            if existing is not None:
                msg = f"workflow {workflow_id!r} already exists ({existing.status})."
                raise WorkflowAlreadyExists(msg)
            started = WorkflowStarted(
                seq=1,
                run_id=str(uuid.uuid4()),
                recorded_at=datetime.now(UTC),
                name=name,
                args=json_args,
                workflow_id=workflow_id,
                code=code,
            )
            store.append([Append(workflow_id=workflow_id, expected_seq=0, events=[started])])
        return workflow_id

    def signal(self, workflow_id: str, name: str, payload: Any) -> None:
        value = _codec.to_jsonable(payload, f"the payload of signal {name!r}")
        served, _ = self._call("signal", workflow_id=workflow_id, name=name, payload=value)
        if not served:
            with self._opened(write=True) as store:
                _append_one(store, workflow_id, SignalReceived, name=name, payload=value)

    def cancel(self, workflow_id: str, reason: str | None) -> None:
        served, _ = self._call("cancel", workflow_id=workflow_id, reason=reason)
        if not served:
            with self._opened(write=True) as store:
                _append_one(store, workflow_id, CancelRequested, reason=reason)

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        served, _ = self._call("terminate", workflow_id=workflow_id, reason=reason)
        if not served:
            with self._opened(write=True) as store:
                _append_one(store, workflow_id, CancelRequested, reason=reason, terminate=True)

    def info(self, workflow_id: str) -> WorkflowInfo:
        served, value = self._call("list")
        if served:
            found = [i for i in workflow_infos(value) if i.workflow_id == workflow_id]
            info = found[0] if found else None
        else:
            with self._opened(write=False) as store:
                info = store.info(workflow_id)
        if info is None:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return info

    def history(self, workflow_id: str) -> list[Event]:
        served, value = self._call("history", workflow_id=workflow_id)
        if served:
            return [_codec.event_from_dict(e) for e in value]
        with self._opened(write=False) as store:
            events = store.history(workflow_id)
        if not events:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return events

    def list(self, status: str | None, workflow_type: str | None) -> list[WorkflowInfo]:
        served, value = self._call("list", status=status, workflow_type=workflow_type)
        if served:
            return workflow_infos(value)
        with self._opened(write=False) as store:
            return store.workflows(status=status, workflow_type=workflow_type)

    def describe(self, workflow_id: str) -> WorkflowDescription:
        served, value = self._call("describe", workflow_id=workflow_id)
        if served:
            return WorkflowDescription(**description_fields(value))
        with self._opened(write=False) as store:
            info = store.info(workflow_id)
            if info is None:
                msg = f"no workflow with id {workflow_id!r} in this store."
                raise WorkflowNotFound(msg)
            history = store.history(workflow_id)
            timers = tuple(t for t in store.due_timers() if t.workflow_id == workflow_id)
        return describe_workflow(info, history, timers)

    def query(self, workflow_id: str, name: str, args: tuple[Any, ...]) -> Any:
        served, value = self._call("query", workflow_id=workflow_id, name=name, args=list(args))
        if served:
            return value
        history = self.history(workflow_id)
        started = [e for e in history if isinstance(e, WorkflowStarted)][-1]
        if started.name not in self.registry.workflows:
            msg = (
                f"no worker serves {self.db!r}, so answering query {name!r} replays the "
                f"history, which needs its code: pass Client(..., workflows=[{started.name}])."
            )
            raise NotRegisteredError(msg)
        result = replay(self.registry.workflows[started.name].fn, history, registry=self.registry)
        if result.interpreter is None:
            msg_0 = f"workflow {workflow_id!r} could not be replayed to answer {name!r}."
            raise QueryError(msg_0)
        return result.interpreter.query(name, *args)

    def result(self, workflow_id: str, timeout: float | None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.info(workflow_id)
            done = final_outcome(info, lambda: self.history(workflow_id)[-1], None)
            if done is not None:
                return done()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                msg = f"workflow {workflow_id!r} did not finish within {timeout}s."
                raise TimeoutError(msg)
            time.sleep(POLL_SECONDS if remaining is None else min(POLL_SECONDS, remaining))
