"""`aion.Client` on a DuckDB file: the worker's endpoint, or the file while no worker runs."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aion import _codec
from aion._client_args import start_fields
from aion._client_endpoint import (
    EndpointClient,
    append_one,
    description_fields,
    infos,
)
from aion._definitions import Registry
from aion._engine._handle import WorkflowDescription, describe_workflow
from aion._engine._results import final_outcome
from aion._errors import (
    NotRegisteredError,
    QueryError,
    WorkflowAlreadyExists,
    WorkflowNotFound,
)
from aion._events import CancelRequested, Event, SignalReceived, WorkflowStarted
from aion._replay import replay
from aion.store import Append, WorkflowInfo

#: How often a waiting `result` asks again (DuckDB has no notifications across processes).
POLL_SECONDS = 0.2


class DuckDBClient:
    """The DuckDB half of `aion.Client` (see `aion._client_endpoint`)."""

    def __init__(self, db: str, registry: Registry) -> None:
        self.db = db
        self.registry = registry
        self.endpoint = EndpointClient(db)

    def close(self) -> None:
        """Nothing to release: each call is its own connection."""

    def start(self, workflow: Any, args: tuple[Any, ...], workflow_id: str | None) -> str:
        name, json_args, code = start_fields(self.registry, workflow, args)
        served, value = self.endpoint.call(
            "start", workflow=name, args=json_args, workflow_id=workflow_id
        )
        if served:
            return str(value)
        workflow_id = workflow_id or str(uuid.uuid4())
        with self.endpoint.opened(write=True) as store:
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
        served, _ = self.endpoint.call("signal", workflow_id=workflow_id, name=name, payload=value)
        if not served:
            with self.endpoint.opened(write=True) as store:
                append_one(store, workflow_id, SignalReceived, name=name, payload=value)

    def cancel(self, workflow_id: str, reason: str | None) -> None:
        served, _ = self.endpoint.call("cancel", workflow_id=workflow_id, reason=reason)
        if not served:
            with self.endpoint.opened(write=True) as store:
                append_one(store, workflow_id, CancelRequested, reason=reason)

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        served, _ = self.endpoint.call("terminate", workflow_id=workflow_id, reason=reason)
        if not served:
            with self.endpoint.opened(write=True) as store:
                append_one(store, workflow_id, CancelRequested, reason=reason, terminate=True)

    def info(self, workflow_id: str) -> WorkflowInfo:
        served, value = self.endpoint.call("list")
        if served:
            found = [i for i in infos(value) if i.workflow_id == workflow_id]
            info = found[0] if found else None
        else:
            with self.endpoint.opened(write=False) as store:
                info = store.info(workflow_id)
        if info is None:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return info

    def history(self, workflow_id: str) -> list[Event]:
        served, value = self.endpoint.call("history", workflow_id=workflow_id)
        if served:
            return [_codec.event_from_dict(e) for e in value]
        with self.endpoint.opened(write=False) as store:
            events = store.history(workflow_id)
        if not events:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return events

    def list(self, status: str | None, workflow_type: str | None) -> list[WorkflowInfo]:
        served, value = self.endpoint.call("list", status=status, workflow_type=workflow_type)
        if served:
            return infos(value)
        with self.endpoint.opened(write=False) as store:
            return store.workflows(status=status, workflow_type=workflow_type)

    def describe(self, workflow_id: str) -> WorkflowDescription:
        served, value = self.endpoint.call("describe", workflow_id=workflow_id)
        if served:
            return WorkflowDescription(**description_fields(value))
        with self.endpoint.opened(write=False) as store:
            info = store.info(workflow_id)
            if info is None:
                msg = f"no workflow with id {workflow_id!r} in this store."
                raise WorkflowNotFound(msg)
            history = store.history(workflow_id)
            timers = tuple(t for t in store.due_timers() if t.workflow_id == workflow_id)
        return describe_workflow(info, history, timers)

    def query(self, workflow_id: str, name: str, args: tuple[Any, ...]) -> Any:
        served, value = self.endpoint.call(
            "query", workflow_id=workflow_id, name=name, args=list(args)
        )
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
