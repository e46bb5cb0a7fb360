"""One interface over the two ways a command reaches a database.

* `RemoteBackend`: a worker is serving the DuckDB file, so ask it over its
  loopback endpoint (`aion.endpoint`: the worker holds DuckDB's write lock;
  nobody else can open the file).
* `LocalBackend`: nobody is; open the file directly, read-only for reads.
  Control commands then record their event straight into history (a start,
  a signal, a cancel request) and the next worker to open the file picks it
  up, exactly as it picks up anything else recorded before a restart.
* `PostgresBackend`: a PostgreSQL database, always opened directly (the
  server takes many clients): reads from the store, and starts, signals and
  cancels through `aion.Client`, which records them as any worker expects
  (a signal or cancel is an inbox row its owner records exactly once), so
  no worker needs to run here or anywhere for the command to succeed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aion
from aion import codec as _codec
from aion import lineage
from aion.endpoint import EndpointClient, description_fields, read_endpoint, workflow_infos
from aion.events import (
    TERMINAL_STATUSES,
    CancelRequested,
    Event,
    SignalReceived,
    WorkflowStarted,
)
from aion.store import (
    Append,
    DuckDBStore,
    Store,
    WorkflowInfo,
    is_postgres_url,
    open_store,
)
from aion.store import redact_url as redact

from .errors import EXIT_STORE, EXIT_USAGE, CliError
from .loader import Code


class Backend(Protocol):
    """What commands need from "the database", wherever it is served from."""

    writable: bool
    #: A worker answers (its live generators too): nothing is merely recorded.
    remote: bool
    #: Workers anywhere pick up what is recorded (PostgreSQL): no "runs when a worker opens it".
    shared: bool

    def workflows(self, status: str | None, workflow_type: str | None) -> list[WorkflowInfo]:
        """Visibility records, oldest first."""
        ...

    def describe(self, workflow_id: str) -> aion.WorkflowDescription:
        """Status, timestamps, pending commands and timers of one workflow."""
        ...

    def history(self, workflow_id: str) -> list[Event]:
        """One workflow's events (raises `WorkflowNotFound` when unknown)."""
        ...

    def histories(self) -> dict[str, list[Event]]:
        """Every workflow's events, read in one scan."""
        ...

    def start(
        self,
        workflow: str,
        args: list[Any],
        workflow_id: str | None,
        code: str | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> str:
        """Record a workflow start (``code``: its ``module:qualname``, ``fn``: the function)."""
        ...

    def signal(self, workflow_id: str, name: str, payload: Any) -> None:
        """Record a signal for a running workflow."""
        ...

    def cancel(self, workflow_id: str, reason: str | None) -> None:
        """Record a cancel request for a running workflow."""
        ...

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        """Record a terminate request: the workflow ends with no compensation."""
        ...

    def rerun(self, op: str, workflow_id: str, seq: int | None, new_id: str | None) -> str:
        """``reset``/``fork``/``retry``/``resume``: a new run (its id), or the status after."""
        ...

    def query(self, workflow_id: str, name: str, args: list[Any], code: Code) -> Any:
        """Answer a query from the workflow's handlers."""
        ...

    def import_history(self, workflow_id: str, events: Sequence[Event]) -> None:
        """Add a whole history under a new workflow id."""
        ...

    def sql(self, query: str, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """One read-only SELECT: column names, rows, whether rows were cut."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


def open_backend(db: str, *, write: bool) -> Backend:
    """The worker's endpoint when one serves ``db``, else the file (created only for writes).

    A PostgreSQL URL is always opened directly (see `PostgresBackend`); its
    schema must exist for reads and is created by the first write, as a
    DuckDB file is.
    """
    if is_postgres_url(db):
        store = open_store(db, read_only=not write)
        if not write and not getattr(store, "exists", True):
            store.close()
            msg = f"there is no aion schema in the PostgreSQL database {redact(db)!r}."
            raise CliError(msg, f"create it with: aion db init --db {redact(db)!r}", EXIT_STORE)
        return PostgresBackend(db, store)
    endpoint = read_endpoint(db)
    if endpoint is not None:
        return RemoteBackend(EndpointClient(endpoint))
    if not write and db != ":memory:" and not Path(db).exists():
        msg = f"there is no aion database at {db!r}."
        raise CliError(
            msg, "pass --db PATH (or set AION_DB), or start a workflow first.", EXIT_STORE
        )
    return LocalBackend(DuckDBStore(db, read_only=not write))


def _not_found(workflow_id: str) -> aion.WorkflowNotFound:
    return aion.WorkflowNotFound(f"no workflow with id {workflow_id!r} in this store.")


class LocalBackend:
    """The database file opened directly (no worker is running)."""

    remote = False
    shared = False

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writable = not getattr(store, "read_only", False)

    def workflows(self, status: str | None, workflow_type: str | None) -> list[WorkflowInfo]:
        """Visibility records from the store's index."""
        return self.store.workflows(status=status, workflow_type=workflow_type)

    def _info(self, workflow_id: str) -> WorkflowInfo:
        info = self.store.info(workflow_id)
        if info is None:
            raise _not_found(workflow_id)
        return info

    def describe(self, workflow_id: str) -> aion.WorkflowDescription:
        """Derived from history: with no worker, nothing is live to ask."""
        from aion.describe import describe_workflow  # the engine's: loaded only here

        info = self._info(workflow_id)
        history = self.store.history(workflow_id)
        timers = tuple(t for t in self.store.due_timers() if t.workflow_id == workflow_id)
        return describe_workflow(info, history, timers)

    def history(self, workflow_id: str) -> list[Event]:
        """The events of one workflow."""
        events = self.store.history(workflow_id)
        if not events:
            raise _not_found(workflow_id)
        return events

    def histories(self) -> dict[str, list[Event]]:
        """All histories in one scan."""
        return self.store.histories()

    def _append_one(self, workflow_id: str, events: Sequence[Event], expected: int) -> None:
        self.store.append([Append(workflow_id=workflow_id, expected_seq=expected, events=events)])

    def start(
        self,
        workflow: str,
        args: list[Any],
        workflow_id: str | None,
        code: str | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> str:
        """Record the start; a worker runs it when it next opens the file."""
        workflow_id = workflow_id or str(uuid.uuid4())
        existing = self.store.info(workflow_id)
        if existing is not None:
            msg = f"workflow {workflow_id!r} already exists ({existing.status})."
            raise aion.WorkflowAlreadyExists(msg)
        json_args = _codec.to_jsonable(list(args), f"the input of workflow {workflow!r}")
        started = WorkflowStarted(
            seq=1,
            run_id=str(uuid.uuid4()),
            recorded_at=datetime.now(UTC),
            name=workflow,
            args=json_args,
            code=code,
        )
        self._append_one(workflow_id, [started], 0)
        return workflow_id

    def _open_info(self, workflow_id: str, what: str) -> WorkflowInfo:
        info = self._info(workflow_id)
        if info.status in TERMINAL_STATUSES:
            msg = f"workflow {workflow_id!r} is {info.status} and cannot take a {what}."
            raise aion.WorkflowClosed(msg)
        return info

    def signal(self, workflow_id: str, name: str, payload: Any) -> None:
        """Record the signal on arrival, as the engine does; it is applied on recovery."""
        info = self._open_info(workflow_id, "signal")
        event = SignalReceived(
            seq=info.last_seq + 1,
            run_id=info.run_id,
            recorded_at=datetime.now(UTC),
            name=name,
            payload=_codec.to_jsonable(payload, f"the payload of signal {name!r}"),
        )
        self._append_one(workflow_id, [event], info.last_seq)

    def cancel(self, workflow_id: str, reason: str | None) -> None:
        """Record the cancel request; the workflow sees it when a worker next runs it."""
        info = self._open_info(workflow_id, "cancel request")
        event = CancelRequested(
            seq=info.last_seq + 1, run_id=info.run_id, recorded_at=datetime.now(UTC), reason=reason
        )
        self._append_one(workflow_id, [event], info.last_seq)

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        """Record the terminate request; the next worker to run the workflow ends it."""
        info = self._open_info(workflow_id, "terminate request")
        event = CancelRequested(
            seq=info.last_seq + 1,
            run_id=info.run_id,
            recorded_at=datetime.now(UTC),
            reason=reason,
            terminate=True,
        )
        self._append_one(workflow_id, [event], info.last_seq)

    def rerun(self, op: str, workflow_id: str, seq: int | None, new_id: str | None) -> str:
        """Write the new run (`aion.lineage`) into the file; the next worker drives it."""
        if op == "resume":
            msg = "resuming a stalled workflow needs a running worker, and none serves this file."
            raise CliError(
                msg,
                "start `aion worker -m MODULE` with the fixed code: it resumes stalled workflows.",
                EXIT_USAGE,
            )
        history = self.history(workflow_id)
        if op == "fork":
            assert seq is not None and new_id is not None
            if self.store.info(new_id) is not None:
                msg = f"workflow {new_id!r} already exists."
                raise aion.WorkflowAlreadyExists(msg)
            events = lineage.rebuilt_run(workflow_id, history, seq, new_workflow_id=new_id)
            self._append_one(new_id, events, 0)
            return new_id
        skip = None
        if op == "retry":
            seq, skip = lineage.retry_point(history)
        assert seq is not None
        reason = "retry" if op == "retry" else f"reset to seq {seq}"
        events = lineage.reset_events(workflow_id, history, seq, reason, skip)
        self._append_one(workflow_id, events, history[-1].seq)
        return events[-1].run_id  # the new run's (an end, if any, is the old run's)

    def query(self, workflow_id: str, name: str, args: list[Any], code: Code) -> Any:
        """Replay the history under the given code and ask the rebuilt generator."""
        history = self.history(workflow_id)
        if not code.workflows:
            msg = (
                f"no worker serves {getattr(self.store, 'path', 'this database')!r}, "
                "so answering a query needs the workflow code."
            )
            raise CliError(
                msg, "pass -m MODULE (the module that defines the workflow), or run `aion worker`."
            )
        replayer = aion.Replayer(code.workflows.values(), code.activities.values())
        result = replayer.replay(history, workflow_id)
        if result.interpreter is None or result.divergence is not None:
            raise result.divergence or aion.QueryError(
                f"workflow {workflow_id!r} could not be replayed."
            )
        return result.interpreter.query(name, *args)

    def import_history(self, workflow_id: str, events: Sequence[Event]) -> None:
        """Append a whole history under an unused id."""
        existing = self.store.info(workflow_id)
        if existing is not None:
            msg = f"workflow {workflow_id!r} already exists ({existing.status})."
            raise aion.WorkflowAlreadyExists(msg)
        self._append_one(workflow_id, events, 0)

    def sql(self, query: str, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """Run by the DuckDB store itself (a read-only transaction on its hardened connection)."""
        read_sql = getattr(self.store, "read_sql", None)
        if read_sql is None:  # pragma: no cover - PostgreSQL goes through sql_cmd directly
            msg = "this store does not run SQL."
            raise CliError(msg, "use a DuckDB file or PostgreSQL URL.")
        result: tuple[list[str], list[tuple[Any, ...]], bool] = read_sql(query, max_rows=max_rows)
        return result

    def close(self) -> None:
        """Close the file."""
        self.store.close()


def _events(raw: list[dict[str, Any]]) -> list[Event]:
    return [_codec.event_from_dict(e) for e in raw]


class RemoteBackend:
    """A running worker, reached over its loopback endpoint."""

    remote = True
    shared = False
    writable = True

    def __init__(self, client: EndpointClient) -> None:
        self.client = client

    def workflows(self, status: str | None, workflow_type: str | None) -> list[WorkflowInfo]:
        """Asked of the worker."""
        return workflow_infos(self.client.call("list", status=status, workflow_type=workflow_type))

    def describe(self, workflow_id: str) -> aion.WorkflowDescription:
        """The worker's live description (pending commands from the running generator)."""
        raw = self.client.call("describe", workflow_id=workflow_id)
        return aion.WorkflowDescription(**description_fields(raw))

    def history(self, workflow_id: str) -> list[Event]:
        """Events sent as fixture-format dicts."""
        return _events(self.client.call("history", workflow_id=workflow_id))

    def histories(self) -> dict[str, list[Event]]:
        """Every history, in one request (the worker reads them in one scan)."""
        raw = self.client.call("histories")
        return {wid: _events(events) for wid, events in raw.items()}

    def start(
        self,
        workflow: str,
        args: list[Any],
        workflow_id: str | None,
        code: str | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> str:
        """Started by the worker, which runs it at once (and records its own code's name)."""
        return str(self.client.call("start", workflow=workflow, args=args, workflow_id=workflow_id))

    def signal(self, workflow_id: str, name: str, payload: Any) -> None:
        """Delivered by the worker."""
        self.client.call("signal", workflow_id=workflow_id, name=name, payload=payload)

    def cancel(self, workflow_id: str, reason: str | None) -> None:
        """Delivered by the worker."""
        self.client.call("cancel", workflow_id=workflow_id, reason=reason)

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        """Delivered by the worker."""
        self.client.call("terminate", workflow_id=workflow_id, reason=reason)

    def rerun(self, op: str, workflow_id: str, seq: int | None, new_id: str | None) -> str:
        """Done by the worker, which drives the new run at once (resume reloads its code)."""
        return str(self.client.call(op, workflow_id=workflow_id, seq=seq, new_id=new_id))

    def query(self, workflow_id: str, name: str, args: list[Any], code: Code) -> Any:
        """Answered by the worker's live generator."""
        return self.client.call("query", workflow_id=workflow_id, name=name, args=args)

    def import_history(self, workflow_id: str, events: Sequence[Event]) -> None:
        """Appended by the worker (which holds the file)."""
        self.client.call(
            "import", workflow_id=workflow_id, events=[_codec.event_to_dict(e) for e in events]
        )

    def sql(self, query: str, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """Run by the worker, which holds the file (values arrive as JSON)."""
        raw = self.client.call("sql", query=query, max_rows=max_rows)
        return list(raw["columns"]), [tuple(r) for r in raw["rows"]], bool(raw["truncated"])

    def close(self) -> None:
        """Nothing to release: each call is its own connection."""


class PostgresBackend(LocalBackend):
    """A PostgreSQL database opened directly: reads from its store, writes through `aion.Client`.

    A start is its own committed ``WorkflowStarted`` (any worker that
    registered the type claims it); a signal or a cancel is an inbox row,
    checked against the workflow's status in the same transaction, which the
    workflow's owner records exactly once. Nothing is appended to a history
    another worker may own, so no worker has to run for the command to
    succeed, and none is raced when one does.
    """

    shared = True

    def __init__(self, db: str, store: Store) -> None:
        super().__init__(store)
        self.db = db
        self._client: aion.Client | None = None

    def _writer(self) -> aion.Client:
        if self._client is None:
            self._client = aion.Client(self.db)
        return self._client

    def start(
        self,
        workflow: str,
        args: list[Any],
        workflow_id: str | None,
        code: str | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> str:
        """Recorded by `aion.Client` (which names the code when ``fn`` is given)."""
        return self._writer().start(fn or workflow, *args, workflow_id=workflow_id)

    def signal(self, workflow_id: str, name: str, payload: Any) -> None:
        """Posted to the workflow's inbox; its owner records it."""
        self._writer().signal(workflow_id, name, payload)

    def cancel(self, workflow_id: str, reason: str | None) -> None:
        """Posted to the workflow's inbox; its owner records it."""
        self._writer().cancel(workflow_id, reason)

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        """Posted to the workflow's inbox (a cancel message that terminates)."""
        self._writer().terminate(workflow_id, reason)

    def rerun(self, op: str, workflow_id: str, seq: int | None, new_id: str | None) -> str:
        """Refused: a new run would be appended to a history another worker may own."""
        msg = f"aion {op} does not run on PostgreSQL from the command line yet."
        hint = f"call Engine.{op}() in a worker process that owns the workflow."
        raise CliError(msg, hint, EXIT_USAGE)

    def close(self) -> None:
        """Close the client's connection and the store."""
        if self._client is not None:
            self._client.close()
            self._client = None
        super().close()
