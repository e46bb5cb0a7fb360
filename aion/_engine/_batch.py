"""Turning the queue into one batch: events with seqs, and the effects decisions cause.

Effects on the deciding workflow itself (a continue-as-new successor, a
delivery receipt) follow their decision at once; effects on other workflows
go after those workflows' own queued events, so every history reads
decision-first. Outcomes committed together go lowest ordinal first.
"""

from __future__ import annotations

from typing import Final

from aion._engine._effects import EXPANDED, expand
from aion._engine._ordering import outcomes_by_ordinal
from aion._engine._state import EngineState
from aion._events import (
    Decision,
    Event,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStarted,
)
from aion.store import Append

#: The events after which a run records nothing more.
RUN_ENDS: Final[frozenset[type[Event]]] = frozenset(
    {WorkflowCompleted, WorkflowFailed, WorkflowCancelled, WorkflowContinuedAsNew}
)
#: Each workflow's events of a batch, in the order they are appended.
Committed = list[tuple[str, list[Event]]]


def build_batch(state: EngineState) -> tuple[list[Append], Committed]:
    """The queue of ``state`` as appends (one per workflow) and the events they hold."""
    now = state.clock.now()
    pending: dict[str, list[Decision]] = {}
    order: list[str] = []
    deferred: list[tuple[str, Decision]] = []
    current = ""

    def put(workflow_id: str, decision: Decision) -> None:
        if workflow_id not in pending:
            pending[workflow_id] = []
            order.append(workflow_id)
        pending[workflow_id].append(decision)

    def add(workflow_id: str, decision: Decision) -> None:
        if workflow_id == current:
            put(workflow_id, decision)
        else:
            deferred.append((workflow_id, decision))

    for workflow_id, items in list(state.queue.items()):
        current = workflow_id
        if workflow_id not in pending:
            for decision in items:
                if decision.kind in EXPANDED:
                    break
            else:  # nothing to expand: the common case
                pending[workflow_id] = list(items)
                order.append(workflow_id)
                continue
        for decision in items:
            put(workflow_id, decision)
            expand(state, workflow_id, decision, add)
    for workflow_id, decision in deferred:
        put(workflow_id, decision)
    appends: list[Append] = []
    committed: Committed = []
    heads, instances = state.heads, state.instances
    for workflow_id in order:
        # What state.head and state.run_id answer, without the calls when they are in memory.
        head = heads.get(workflow_id)
        if head is None:
            head = state.head(workflow_id)
        expected = head
        inst = instances.get(workflow_id)
        run_id = inst.run_id if inst is not None else state.run_id(workflow_id)
        ended = False
        events: list[Event] = []
        decisions = pending[workflow_id]
        for decision in outcomes_by_ordinal(decisions) if len(decisions) > 1 else decisions:
            cls, fields = decision.kind, decision.fields
            if cls is WorkflowStarted:
                run_id, ended = fields["run_id"], False
            elif "run_id" in fields and (ended or fields["run_id"] != run_id):
                # An outcome addressed to a run that has ended (an activity that
                # finished, a timer that fired, while the run decided its end): the
                # end cancelled its command, and nothing may follow a run's end.
                continue
            head += 1
            events.append(decision.event(head, now, run_id))
            ended = ended or cls in RUN_ENDS
        if not events:
            continue
        appends.append(Append(workflow_id=workflow_id, expected_seq=expected, events=events))
        committed.append((workflow_id, events))
    return appends, committed
