"""`aion.Client`: start, signal and watch workflows from a process that runs no worker.

A web application or a script talks to the workers through the store:

* on PostgreSQL, directly: a start is its own committed ``WorkflowStarted``,
  a signal or cancel an inbox row its target's owner records exactly once,
  and `result` waits on LISTEN/NOTIFY (see `aion._client_postgres`);
* on DuckDB, through the running worker's loopback endpoint (DuckDB lets one
  process hold the file), or the file itself while no worker runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from aion._definitions import Registry
from aion._engine._handle import WorkflowDescription
from aion._events import Event
from aion.store import WorkflowInfo, is_postgres_url


class _Backend(Protocol):
    def close(self) -> None: ...
    def start(self, workflow: Any, args: tuple[Any, ...], workflow_id: str | None) -> str: ...
    def signal(self, workflow_id: str, name: str, payload: Any) -> None: ...
    def cancel(self, workflow_id: str, reason: str | None) -> None: ...
    def terminate(self, workflow_id: str, reason: str | None) -> None: ...
    def query(self, workflow_id: str, name: str, args: tuple[Any, ...]) -> Any: ...
    def describe(self, workflow_id: str) -> WorkflowDescription: ...
    def history(self, workflow_id: str) -> list[Event]: ...
    def list(self, status: str | None, workflow_type: str | None) -> list[WorkflowInfo]: ...
    def result(self, workflow_id: str, timeout: float | None) -> Any: ...


class Client:
    """Talks to the workers of a store from any process; runs no workflow itself.

    Args:
        target: A ``postgresql://`` URL (direct access) or a DuckDB file path
            (through the worker serving it, see ``aion worker``).
        workflows: Workflow functions, optional: with them, `start` checks
            arguments against the signature before recording, and `query`
            can replay a workflow no worker answers for. Without them a start
            by name is recorded as given.

    Raises:
        aion.StoreError: The store cannot be opened.
        aion.ConfigurationError: A PostgreSQL URL but no psycopg installed.
    """

    def __init__(self, target: str, *, workflows: Iterable[Callable[..., Any]] = ()) -> None:
        registry = Registry(workflows, ())
        self._backend: _Backend
        if is_postgres_url(target):
            from aion._client_postgres import PostgresClient
            from aion.store._postgres import PostgresStore
            from aion.store._postgres_url import split_schema

            dsn, schema = split_schema(target)
            self._backend = PostgresClient(PostgresStore(dsn, schema=schema), registry)
        else:
            from aion._client_duckdb import DuckDBClient

            self._backend = DuckDBClient(target, registry)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection."""
        self._backend.close()

    def start(
        self, workflow: Callable[..., Any] | str, *args: Any, workflow_id: str | None = None
    ) -> str:
        """Record a workflow's start; returns its id once the start is durable.

        A worker that registered the workflow runs it. A start under an id in
        use is refused, so retrying a start whose answer was lost is safe.

        Raises:
            aion.WorkflowArgumentError: Its signature (when known here) refuses ``args``.
            aion.WorkflowAlreadyExists: ``workflow_id`` is taken.
            aion.CodecError: An argument cannot be encoded as JSON.
        """
        return self._backend.start(workflow, args, workflow_id)

    def signal(self, workflow_id: str, name: str, payload: Any = None) -> None:
        """Send a signal; returns once it is durable (recorded exactly once by the workflow).

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: It has finished.
        """
        self._backend.signal(workflow_id, name, payload)

    def cancel(self, workflow_id: str, reason: str | None = None) -> None:
        """Ask a workflow to cancel; returns once the request is durable.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: It has finished.
        """
        self._backend.cancel(workflow_id, reason)

    def terminate(self, workflow_id: str, reason: str | None = None) -> None:
        """End a workflow now, with no compensation (`Engine.terminate`); returns once durable.

        Raises:
            aion.WorkflowNotFound: No such workflow.
            aion.WorkflowClosed: It has finished.
        """
        self._backend.terminate(workflow_id, reason)

    def query(self, workflow_id: str, name: str, *args: Any) -> Any:
        """Answer a query (from the worker's live generator, or by replaying history here).

        Raises:
            aion.QueryError: Unknown query name, or the handler raised.
            aion.NotRegisteredError: Replaying needs the workflow code, not given.
        """
        return self._backend.query(workflow_id, name, args)

    def describe(self, workflow_id: str) -> WorkflowDescription:
        """Status, timestamps, why it is stalled, and what it waits on."""
        return self._backend.describe(workflow_id)

    def history(self, workflow_id: str) -> list[Event]:
        """Every recorded event of a workflow, all runs, in seq order."""
        return self._backend.history(workflow_id)

    def list(
        self, status: str | None = None, workflow_type: str | None = None
    ) -> list[WorkflowInfo]:
        """Workflows with their status, oldest first, optionally filtered."""
        return self._backend.list(status, workflow_type)

    def result(self, workflow_id: str, timeout: float | None = None) -> Any:
        """Wait for a workflow to finish; return its recorded result or raise its error.

        Raises:
            aion.WorkflowFailedError / WorkflowCancelledError / WorkflowStalledError:
                It ended that way.
            TimeoutError: ``timeout`` seconds passed first.
        """
        return self._backend.result(workflow_id, timeout)

    def __repr__(self) -> str:
        return f"Client({type(self._backend).__name__})"
