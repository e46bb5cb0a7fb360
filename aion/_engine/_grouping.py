"""Group commit under load: let a busy worker gather a batch before committing it.

A commit costs about 1.5 ms whatever it holds, so a worker that commits as
soon as anything is queued spends its time committing a handful of events at
a time while activity completions trickle in. When many activities are in
flight, `linger` waits (releasing the engine lock) until about half of them
have reported or a couple of milliseconds have passed, whichever comes first.
That is the same latency as one more commit, and it turns a few events per
commit into dozens. With little in flight the worker does not wait at all.

While it is busy, the worker also keeps the cyclic collector paused for a few
steps in a row (`busy_steps`): what a step leaves alive (attempts in flight,
their reports) mostly dies within a step or two, so a collection after every
step rescanned objects that reference counting was about to free anyway.
"""

from __future__ import annotations

import threading
import time
from typing import Final

from aion._engine._runtime import Runtime
from aion._gcpause import paused_gc

#: The longest a worker waits for a batch to fill.
LINGER_SECONDS: Final = 0.002
#: The longest a worker waits for callers it just answered to send their next request.
CALLER_LINGER_SECONDS: Final = 0.002
#: Below this many activities in flight a worker commits at once.
MIN_INFLIGHT: Final = 16
#: A batch of this many waiting requests is full enough.
FULL: Final = 256
#: Busy steps in a row with the cyclic collector paused (it runs between runs of them).
STEPS_PER_COLLECTION: Final = 8


def busy_steps(runtime: Runtime, stop: threading.Event | None) -> bool:
    """Step while there is work (lingering after each), a few steps per collection.

    Returns whether anything was committed; call with the engine lock held.
    The collector is enabled again before the caller waits or steps on.
    """
    with paused_gc():
        for n in range(STEPS_PER_COLLECTION):
            if runtime.closed or (stop is not None and stop.is_set()) or not runtime.step():
                return n > 0
            linger(runtime)  # group commit: let a busy batch fill a little
    return True


def linger(runtime: Runtime) -> None:
    """Wait briefly for more work when much is in flight; call with the engine lock held.

    Two kinds of work are worth waiting for. Activity reports, when many
    attempts are in flight (up to `LINGER_SECONDS`). And callers the last
    commit just answered: a thread whose `start()` returned usually calls
    again at once, and the first decisions of the runs that commit started
    are queued, so waiting up to `CALLER_LINGER_SECONDS` for that many new
    requests commits the first decisions together with the next starts
    instead of in a commit of their own (halving commits per start).
    """
    inflight = len(runtime.attempts.inflight)
    callers = runtime.released if runtime.state.queue else 0
    if inflight >= MIN_INFLIGHT:
        want, seconds = max(min(inflight // 2, FULL), callers), LINGER_SECONDS
    elif callers:
        # Those already waiting came while the last batch committed: wait for the rest too.
        want, seconds = min(len(runtime.inbox) + callers, FULL), CALLER_LINGER_SECONDS
    else:
        return
    deadline = time.monotonic() + seconds
    while len(runtime.inbox) < want:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        runtime.await_inbox(remaining, want)
