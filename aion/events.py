"""The public history model: the event classes `Engine.history()` and `replay()` use.

Each event is a frozen, keyword-only attrs class with the envelope ``seq``,
``run_id`` and ``recorded_at``. Match on them to read a history::

    for event in engine.history("order-o-1"):
        if isinstance(event, aion.events.ActivityCompleted):
            print(event.seq, event.result)

`kind_of(event)` is the kind name stored in the database and in fixtures;
`EVENT_TYPES` lists every class; `TERMINAL_STATUSES` are the statuses a
workflow never leaves.
"""

from aion._events import EVENT_TYPES as EVENT_TYPES
from aion._events import FORMAT_VERSION as FORMAT_VERSION
from aion._events import TERMINAL_STATUSES as TERMINAL_STATUSES
from aion._events import ActivityCompleted as ActivityCompleted
from aion._events import ActivityFailed as ActivityFailed
from aion._events import ActivityScheduled as ActivityScheduled
from aion._events import CancelRequested as CancelRequested
from aion._events import ChildAwaited as ChildAwaited
from aion._events import ChildCompleted as ChildCompleted
from aion._events import ChildFailed as ChildFailed
from aion._events import ChildStarted as ChildStarted
from aion._events import CommandCancelled as CommandCancelled
from aion._events import CommandEvent as CommandEvent
from aion._events import ErrorInfo as ErrorInfo
from aion._events import Event as Event
from aion._events import GroupStarted as GroupStarted
from aion._events import Origin as Origin
from aion._events import PatchRecorded as PatchRecorded
from aion._events import SignalAwaited as SignalAwaited
from aion._events import SignalDelivered as SignalDelivered
from aion._events import SignalDeliveryFailed as SignalDeliveryFailed
from aion._events import SignalReceived as SignalReceived
from aion._events import SignalSent as SignalSent
from aion._events import TimeoutStarted as TimeoutStarted
from aion._events import TimerFired as TimerFired
from aion._events import TimerStarted as TimerStarted
from aion._events import WorkflowCancelled as WorkflowCancelled
from aion._events import WorkflowCompleted as WorkflowCompleted
from aion._events import WorkflowContinuedAsNew as WorkflowContinuedAsNew
from aion._events import WorkflowFailed as WorkflowFailed
from aion._events import WorkflowResumed as WorkflowResumed
from aion._events import WorkflowStalled as WorkflowStalled
from aion._events import WorkflowStarted as WorkflowStarted
from aion._events import kind_of as kind_of

__all__ = [
    "EVENT_TYPES",
    "FORMAT_VERSION",
    "TERMINAL_STATUSES",
    "ActivityCompleted",
    "ActivityFailed",
    "ActivityScheduled",
    "CancelRequested",
    "ChildAwaited",
    "ChildCompleted",
    "ChildFailed",
    "ChildStarted",
    "CommandCancelled",
    "CommandEvent",
    "ErrorInfo",
    "Event",
    "GroupStarted",
    "Origin",
    "PatchRecorded",
    "SignalAwaited",
    "SignalDelivered",
    "SignalDeliveryFailed",
    "SignalReceived",
    "SignalSent",
    "TimeoutStarted",
    "TimerFired",
    "TimerStarted",
    "WorkflowCancelled",
    "WorkflowCompleted",
    "WorkflowContinuedAsNew",
    "WorkflowFailed",
    "WorkflowResumed",
    "WorkflowStalled",
    "WorkflowStarted",
    "kind_of",
]
