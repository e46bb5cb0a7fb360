"""What a process holding the database (``aion worker``, ``aion run``) serves to other commands.

Each handler takes the request's JSON arguments and returns a JSON value; the
endpoint turns exceptions into classified errors for the client.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import aion
from aion import codec as _codec
from aion.endpoint import Handler
from aion.events import Event
from aion.store import Append

from .errors import CliError


def _events(events: list[Event]) -> list[dict[str, Any]]:
    return [_codec.event_to_dict(e) for e in events]


def handlers(
    engine: aion.Engine, reload: Callable[[], tuple[list[Any], list[Any]]] | None = None
) -> dict[str, Handler]:
    """The operations a worker answers, bound to its engine.

    ``reload`` re-imports the worker's modules and returns their workflows
    and activities: ``resume`` uses it so fixed code is picked up without
    restarting the worker.
    """

    def start(a: dict[str, Any]) -> Any:
        return engine.start(
            str(a["workflow"]), *list(a.get("args") or []), workflow_id=a.get("workflow_id")
        ).id

    def signal(a: dict[str, Any]) -> Any:
        engine.signal(str(a["workflow_id"]), str(a["name"]), a.get("payload"))

    def cancel(a: dict[str, Any]) -> Any:
        engine.cancel(str(a["workflow_id"]), a.get("reason"))

    def terminate(a: dict[str, Any]) -> Any:
        engine.terminate(str(a["workflow_id"]), a.get("reason"))

    def reset(a: dict[str, Any]) -> Any:
        return engine.reset(str(a["workflow_id"]), int(a["seq"]))

    def fork(a: dict[str, Any]) -> Any:
        return engine.fork(str(a["workflow_id"]), int(a["seq"]), a.get("new_id"))

    def retry(a: dict[str, Any]) -> Any:
        return engine.retry(str(a["workflow_id"]))

    def resume(a: dict[str, Any]) -> Any:
        workflows, activities = reload() if reload is not None else ([], [])
        return engine.resume(str(a["workflow_id"]), workflows=workflows, activities=activities)

    def query(a: dict[str, Any]) -> Any:
        value = engine.query(str(a["workflow_id"]), str(a["name"]), *list(a.get("args") or []))
        return _codec.to_jsonable(value, "the query result")

    def list_(a: dict[str, Any]) -> Any:
        infos = engine.list(status=a.get("status"), workflow_type=a.get("workflow_type"))
        return [_codec.CONVERTER.unstructure(i) for i in infos]

    def describe(a: dict[str, Any]) -> Any:
        data = _codec.CONVERTER.unstructure(engine.describe(str(a["workflow_id"])))
        data["result"] = _codec.to_jsonable(data.get("result"), "the workflow result")
        return data

    def history(a: dict[str, Any]) -> Any:
        return _events(engine.history(str(a["workflow_id"])))

    def histories(a: dict[str, Any]) -> Any:
        return {wid: _events(events) for wid, events in engine.store.histories().items()}

    def import_(a: dict[str, Any]) -> Any:
        workflow_id = str(a["workflow_id"])
        existing = engine.store.info(workflow_id)
        if existing is not None:
            msg = f"workflow {workflow_id!r} already exists ({existing.status})."
            raise aion.WorkflowAlreadyExists(msg)
        events = [_codec.event_from_dict(e) for e in a["events"]]
        engine.store.append([Append(workflow_id=workflow_id, expected_seq=0, events=events)])

    def sql(a: dict[str, Any]) -> Any:
        read_sql = getattr(engine.store, "read_sql", None)
        if read_sql is None:
            msg = "this worker's store does not run SQL here; ask the database directly."
            raise CliError(msg, "aion sql on a PostgreSQL URL connects to it itself.")
        try:
            columns, rows, cut = read_sql(str(a["query"]), max_rows=int(a.get("max_rows") or 1000))
        except aion.ConfigurationError as exc:
            hint = "one read-only SELECT; the tables are events, workflows and aion_meta."
            raise CliError(str(exc), hint) from None
        values = json.loads(json.dumps(rows, default=str))  # datetimes, decimals: as text
        return {"columns": columns, "rows": values, "truncated": cut}

    def ping(a: dict[str, Any]) -> Any:
        return {"pid": os.getpid()}

    return {
        "start": start,
        "signal": signal,
        "cancel": cancel,
        "terminate": terminate,
        "reset": reset,
        "fork": fork,
        "retry": retry,
        "resume": resume,
        "query": query,
        "list": list_,
        "describe": describe,
        "history": history,
        "histories": histories,
        "import": import_,
        "sql": sql,
        "ping": ping,
    }
