"""`aion.Client` on PostgreSQL: every operation is a transaction of its own, no worker inside.

* A start is its own committed ``WorkflowStarted`` (an unfenced append that
  creates the workflow row with no owner), so the start is durable before
  `Client.start` returns and a retried start under the same id is refused
  (`WorkflowAlreadyExists`), never doubled. Its COMMIT notifies the workers,
  one of which claims the workflow and runs it.
* A signal or a cancel is an inbox row written in the client's transaction,
  checked against the workflow's status under a row lock; the workflow's
  owner records it as an event and deletes the row in one transaction, so
  each accepted signal is recorded exactly once.
* `result` waits on the ``closed`` channel (LISTEN/NOTIFY), re-reading the
  status on every hint and at least once a second.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aion import _codec
from aion._client_args import start_fields
from aion._definitions import Registry
from aion._engine._handle import WorkflowDescription, describe_workflow
from aion._engine._results import final_outcome
from aion._errors import (
    NotRegisteredError,
    QueryError,
    SequenceConflict,
    WorkflowAlreadyExists,
    WorkflowNotFound,
)
from aion._events import Event, WorkflowStarted
from aion._replay import replay
from aion.store import Append, WorkflowInfo
from aion.store._postgres import PostgresStore
from aion.store._postgres_notify import Listener, closed_channel

#: The longest a waiting `result` goes without re-reading the status (the polling fallback).
POLL_SECONDS = 1.0


class PostgresClient:
    """The PostgreSQL half of `aion.Client` (see the module docstring)."""

    def __init__(self, store: PostgresStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._listener: Listener | None = None

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.store.close()

    def start(self, workflow: Any, args: tuple[Any, ...], workflow_id: str | None) -> str:
        name, json_args, code = start_fields(self.registry, workflow, args)
        workflow_id = workflow_id or str(uuid.uuid4())
        started = WorkflowStarted(
            seq=1,
            run_id=str(uuid.uuid4()),
            recorded_at=datetime.now(UTC),
            name=name,
            args=json_args,
            workflow_id=workflow_id,
            code=code,
        )
        try:
            self.store.append([Append(workflow_id=workflow_id, expected_seq=0, events=[started])])
        except SequenceConflict:
            info = self.store.info(workflow_id)
            status = info.status if info is not None else "starting"
            msg = f"workflow {workflow_id!r} already exists ({status})."
            raise WorkflowAlreadyExists(msg) from None
        return workflow_id

    def signal(self, workflow_id: str, name: str, payload: Any) -> None:
        value = _codec.to_jsonable(payload, f"the payload of signal {name!r}")
        body = _codec.dumps({"name": name, "payload": value, "sender": None})
        self.store.request(workflow_id, "signal", body)

    def cancel(self, workflow_id: str, reason: str | None) -> None:
        self.store.request(workflow_id, "cancel", _codec.dumps({"reason": reason}))

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        body = {"reason": reason, "terminate": True}  # a cancel message that terminates
        self.store.request(workflow_id, "cancel", _codec.dumps(body))

    def info(self, workflow_id: str) -> WorkflowInfo:
        info = self.store.info(workflow_id)
        if info is None:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return info

    def history(self, workflow_id: str) -> list[Event]:
        events = self.store.history(workflow_id)
        if not events:
            msg = f"no workflow with id {workflow_id!r} in this store."
            raise WorkflowNotFound(msg)
        return events

    def list(self, status: str | None, workflow_type: str | None) -> list[WorkflowInfo]:
        return self.store.workflows(status=status, workflow_type=workflow_type)

    def describe(self, workflow_id: str) -> WorkflowDescription:
        info = self.info(workflow_id)
        history = self.store.history(workflow_id)
        timers = tuple(t for t in self.store.due_timers() if t.workflow_id == workflow_id)
        return describe_workflow(info, history, timers)

    def query(self, workflow_id: str, name: str, args: tuple[Any, ...]) -> Any:
        history = self.history(workflow_id)
        started = [e for e in history if isinstance(e, WorkflowStarted)][-1]
        if started.name not in self.registry.workflows:
            msg = (
                f"answering query {name!r} of workflow {workflow_id!r} replays its history, "
                f"which needs its code: pass Client(..., workflows=[{started.name}])."
            )
            raise NotRegisteredError(msg)
        definition = self.registry.workflows[started.name]
        result = replay(definition.fn, history, registry=self.registry)
        if result.interpreter is None:
            msg = f"workflow {workflow_id!r} could not be replayed to answer query {name!r}."
            raise QueryError(msg)
        return result.interpreter.query(name, *args)

    def result(self, workflow_id: str, timeout: float | None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.info(workflow_id)
            done = final_outcome(info, lambda: self.store.history(workflow_id)[-1], None)
            if done is not None:
                return done()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                msg = f"workflow {workflow_id!r} did not finish within {timeout}s."
                raise TimeoutError(msg)
            if self._listener is None:
                self._listener = Listener(self.store.dsn, closed_channel(self.store.schema))
            wait = POLL_SECONDS if remaining is None else min(POLL_SECONDS, remaining)
            self._listener.wait(wait)
