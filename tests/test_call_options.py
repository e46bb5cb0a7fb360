"""A live call records the retry policy and timeout in force, its own or its definition's.

The definition's are converted once per definition and reused; a call that
overrides either must still record its own, and a call by name with no
registered definition records the default policy and no timeout.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aion
from aion import _codec
from aion._definitions import DEFAULT_RETRY, Registry, workflow_definition
from aion._events import ActivityScheduled, WorkflowStarted
from aion._interpreter import Interpreter

OWN = aion.RetryPolicy(max_attempts=7)
DEFINED = aion.RetryPolicy(max_attempts=2)


@aion.activity(retry=DEFINED, timeout=timedelta(seconds=3))
def fetch(i: int) -> int:
    return i


@aion.workflow
def calls():  # type: ignore[no-untyped-def]
    yield aion.collect_all(
        [
            aion.call(fetch, 1),
            aion.call(fetch, 2, retry=OWN),
            aion.call(fetch, 3, timeout=timedelta(seconds=9)),
            aion.call(fetch, 4),
        ]
    )


def _scheduled(workflow: Any, registry: Registry) -> list[dict[str, Any]]:
    definition = workflow_definition(workflow)
    started = WorkflowStarted(
        seq=1,
        run_id=str(uuid.uuid4()),
        recorded_at=datetime.now(UTC),
        name=definition.name,
        args=[],
    )
    interp = Interpreter(workflow_id="w", started=started, definition=definition, registry=registry)
    interp.start()
    return [d.fields for d in interp.take_decisions() if d.kind is ActivityScheduled]


def test_each_call_records_the_policy_and_timeout_in_force() -> None:
    for _ in range(2):  # the second run reads the per-definition cache
        fields = _scheduled(calls, Registry(workflows=[calls], activities=[fetch]))
        assert [(f["retry"], f["timeout"]) for f in fields] == [
            (_codec.to_jsonable(DEFINED), 3.0),
            (_codec.to_jsonable(OWN), 3.0),
            (_codec.to_jsonable(DEFINED), 9.0),
            (_codec.to_jsonable(DEFINED), 3.0),
        ]


@aion.workflow
def by_name():  # type: ignore[no-untyped-def]
    yield aion.call("unregistered", 1)


def test_a_call_with_no_definition_records_the_default_policy() -> None:
    (fields,) = _scheduled(by_name, Registry(workflows=[by_name]))
    assert (fields["retry"], fields["timeout"]) == (_codec.to_jsonable(DEFAULT_RETRY), None)
