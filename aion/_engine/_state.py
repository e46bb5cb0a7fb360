"""What the runtime knows between steps: live workflows, the next batch, the heads.

The step loop, the effects of a decision, batch building and containment
all read and write this one record, so it is an object of its own below
them all: each of them is handed it, and none needs the runtime itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from aion._clock import Clock
from aion._definitions import Registry, import_name
from aion._engine._instance import Instance
from aion._events import TERMINAL_STATUSES, Decision, Event, WorkflowStarted
from aion.store import Store


class EngineState:
    """The shared record of one runtime (used under its lock only).

    Attributes:
        store: Where history is.
        registry: The workflows and activities this engine runs.
        clock: Where time comes from.
        instances: Workflows in memory (running or stalled), by id.
        queue: Decisions waiting for the next batch, by workflow, in order.
        heads: The last committed seq of each workflow the runtime wrote.
        told: Per run, the child awaits whose outcome is queued already.
        unrecorded: Workflows stalled because the store refused their events, with why.
    """

    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.instances: dict[str, Instance] = {}
        self.queue: dict[str, list[Decision]] = {}
        self.heads: dict[str, int] = {}
        self.told: dict[tuple[str, str], set[int]] = {}
        self.unrecorded: dict[str, str] = {}

    def code_of(self, workflow_type: str) -> str | None:
        """The ``module:qualname`` to record for a run of ``workflow_type`` this engine starts.

        Children and continued runs record it as `Engine.start` does, so tools
        import their code without being told; None for a type this engine
        does not register (another worker runs it) or whose name cannot be
        imported back.
        """
        definition = self.registry.workflows.get(workflow_type)
        return import_name(definition.fn) if definition is not None else None

    def enqueue(self, workflow_id: str, decision: Decision) -> Decision:
        """Queue ``decision`` for the next batch; returns it (to withdraw it later)."""
        queued = self.queue.get(workflow_id)
        if queued is None:  # not setdefault: that makes a list per call to throw away
            self.queue[workflow_id] = [decision]
        else:
            queued.append(decision)
        return decision

    def withdraw(self, workflow_id: str, decision: Decision) -> None:
        """Take a request's decision back out of the queue (its caller was told it failed)."""
        items = self.queue.get(workflow_id, [])
        for i, queued in enumerate(items):
            if queued is decision:
                del items[i]
                break
        if not items:
            self.queue.pop(workflow_id, None)

    def head(self, workflow_id: str) -> int:
        """The last committed seq of ``workflow_id`` (0 before its start)."""
        head = self.heads.get(workflow_id)
        if head is None:
            info = self.store.info(workflow_id)
            head = self.heads[workflow_id] = info.last_seq if info else 0
        return head

    def run_id(self, workflow_id: str) -> str:
        """The current run of ``workflow_id`` ("" when it has none yet)."""
        inst = self.instances.get(workflow_id)
        if inst is not None:
            return inst.run_id
        info = self.store.info(workflow_id)
        return info.run_id if info else ""

    def status(self, workflow_id: str) -> str | None:
        """The recorded status of ``workflow_id`` (None when it does not exist)."""
        info = self.store.info(workflow_id)
        return info.status if info else None

    def decided_end(self, workflow_id: str) -> str | None:
        """The terminal status a workflow's code decided, before (or as) it is committed.

        A decision is queued once the batch that caused it has committed, so it
        is in the next batch: requests and effects aimed at the workflow in that
        batch must see it as closed, or they would be recorded after its end.
        """
        inst = self.instances.get(workflow_id)
        if inst is not None and inst.interp is not None:
            status = inst.interp.status
            if status in TERMINAL_STATUSES:
                return status
        return None

    def queued_events(self, workflow_id: str) -> Sequence[Event]:
        """The decisions queued for the next commit, as events (seq 0: provisional).

        The code already made them, so the workflow waits on them now (what
        `describe` shows); queued outcomes are left out, as they reach the
        workflow only once committed.
        """
        queued = self.queue.get(workflow_id)
        if not queued:
            return []
        now = self.clock.now()
        run_id = self.run_id(workflow_id)
        out: list[Event] = []
        for decision in queued:
            if decision.kind.FAMILY == "outcome":
                continue  # not applied until committed: the workflow still waits for it
            if decision.kind is WorkflowStarted:
                run_id = decision.fields["run_id"]
            out.append(decision.event(0, now, run_id))
        return out

    def family(self, workflow_id: str) -> set[str]:
        """The workflow and its resident descendants: whose timers can move it on."""
        family = {workflow_id}
        todo = [workflow_id]
        while todo:
            inst = self.instances.get(todo.pop())
            if inst is None:
                continue
            for child_id in inst.children:
                if child_id not in family and child_id in self.instances:
                    family.add(child_id)
                    todo.append(child_id)
        return family
