"""Catching a workflow that runs too long without yielding, and naming its line.

Workflow code runs on the thread that drives its interpreter (the engine's
loop, or a replay) from one ``yield`` to the next. A loop that never yields
would hold that thread, and with it the whole engine, forever. So every
stretch of workflow code runs under a *guard*: a watchdog thread checks the
guards a few times a second, and when one has run longer than its budget it
reads the thread's current frame (``sys._current_frames``) to name the file
and line, and raises `Runaway` in that thread
(``PyThreadState_SetAsyncExc``). The interpreter turns it into a stall whose
reason names the line, so the engine carries on and the workflow resumes once
fixed code is deployed.

`Runaway` derives from `BaseException` so that a workflow's
``except Exception`` cannot swallow it. It is delivered at the next bytecode
boundary: code blocked inside one long C call (``time.sleep`` in a workflow)
is stopped only when that call returns. A guard fires once; releasing it
takes delivery of an exception not yet delivered, so the exception never
lands outside the guarded stretch.

The budget is `Interpreter.step_budget` (10 seconds unless the
``AION_STEP_BUDGET`` environment variable says otherwise; 0 disables it).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Final

#: Seconds of workflow code between two yields before the watchdog stops it.
DEFAULT_BUDGET: Final = float(os.environ.get("AION_STEP_BUDGET", "10"))
_TICK: Final = 0.05

# Raise an exception type in another thread (delivered at its next bytecode boundary).
_raise_in = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class Runaway(BaseException):
    """Raised inside workflow code that ran past its budget without yielding."""


class Guard:
    """The guard of one thread: reused for every stretch that thread runs (see `Watchdog`)."""

    __slots__ = (
        "active",
        "budget",
        "code",
        "fired",
        "firing",
        "seen",
        "since",
        "stretch",
        "thread_id",
        "where",
    )

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.active = False
        self.budget = 0.0
        self.code: CodeType | None = None
        self.stretch = 0  # bumped when a stretch starts
        self.seen = -1  # the stretch the watchdog last saw running ...
        self.since = 0.0  # ... and since when
        self.firing = False
        self.fired = False
        self.where = ""


class Watchdog:
    """The process's watchdog thread and the guards it watches.

    Guarding wraps every stretch of workflow code between two yields, so the two
    calls that do it are kept to a few attribute writes: each thread reuses one
    `Guard`, no clock is read (the watchdog times a stretch from when it first
    sees it, so it fires between ``budget`` and ``budget`` + one tick after the
    stretch began), and no lock is taken unless the watchdog is firing.

    An exception must never land outside the stretch it stops. The watchdog
    announces ``firing`` before it re-checks that the stretch is still active
    and raises; `release` marks the stretch inactive before it looks at
    ``firing``. So either the watchdog sees the stretch ended and does not
    raise, or `release` sees the announcement and, under the lock (after the
    raise), takes delivery of an exception not yet delivered. One delivered earlier
    lands inside the stretch or inside `release`, where the interpreter catches
    it. Nested stretches on one thread (a replay run from workflow code) get a
    guard of their own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guards: set[Guard] = set()  # every guard, scanned by the watchdog thread
        self._idle: dict[int, Guard] = {}  # per thread id: its guard, when not in use
        self._thread: threading.Thread | None = None

    def watch(self, budget: float, code: CodeType | None) -> Guard:
        """Start guarding the calling thread for ``budget`` seconds."""
        guard = self._idle.pop(threading.get_ident(), None)  # only this thread uses its entry
        if guard is None:
            guard = Guard(threading.get_ident())
            with self._lock:
                self._guards.add(guard)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="aion-watchdog", daemon=True
                    )
                    self._thread.start()
        guard.budget = budget
        guard.code = code
        guard.stretch += 1
        guard.active = True  # last: the watchdog only times active stretches
        return guard

    def hold(self) -> Guard:
        """Take the calling thread's guard for many stretches (a whole replay), none active.

        The holder starts each stretch itself with ``guard.stretch += 1;
        guard.active = True`` and ends it with ``guard.active = False`` then
        `settle` when ``firing`` or ``fired`` is set: a few attribute writes per
        stretch instead of two calls. `unhold` gives the guard back.
        """
        guard = self.watch(0.0, None)
        guard.active = False
        return guard

    def unhold(self, guard: Guard) -> None:
        """Give back a guard taken with `hold`."""
        guard.active = True  # so that `release` does its whole job
        self.release(guard)

    def settle(self, guard: Guard) -> None:
        """After a held stretch ended: take delivery of an exception the watchdog raised late."""
        self._deliver(guard)

    def release(self, guard: Guard) -> None:
        """Stop guarding; take delivery of the guard's exception if it is still pending."""
        if not guard.active:
            return  # released already
        guard.active = False
        if guard.firing or guard.fired:  # `_deliver`'s test, inlined: this runs every resume
            self._deliver(guard)
        if guard.thread_id in self._idle:
            with self._lock:
                self._guards.discard(guard)  # a nested guard: the thread has one already
        else:
            self._idle[guard.thread_id] = guard

    def _deliver(self, guard: Guard) -> None:
        if guard.firing or guard.fired:
            with self._lock:  # the watchdog holds it until its raise is done
                if guard.fired:
                    guard.fired = False
                    # Take delivery of a Runaway not delivered yet, here where it is
                    # harmless. Clearing it instead (SetAsyncExc with NULL) leaves
                    # CPython's eval breaker set for good, which slows every later
                    # call in the process to a crawl; a delivered exception resets it.
                    try:
                        for _ in range(64):
                            pass
                    except Runaway:
                        pass

    def _run(self) -> None:
        while True:
            time.sleep(_TICK)
            now = time.monotonic()
            with self._lock:
                for guard in self._guards:
                    if not guard.active or guard.fired:
                        continue
                    stretch = guard.stretch
                    if stretch != guard.seen:
                        guard.seen, guard.since = stretch, now
                        continue
                    if now - guard.since < guard.budget:
                        continue
                    guard.firing = True  # announce, then re-check (see the class docstring)
                    if _still_running(guard, stretch):
                        guard.where = _locate(guard)
                        guard.fired = True
                        _raise_in(guard.thread_id, Runaway)
                    guard.firing = False


def _still_running(guard: Guard, stretch: int) -> bool:
    """Re-read after announcing ``firing``: the guarded thread may have moved on."""
    return guard.active and guard.stretch == stretch


def _locate(guard: Guard) -> str:
    """``file:line in function`` of what the guarded thread is running now."""
    frame: FrameType | None = sys._current_frames().get(guard.thread_id)
    innermost = frame
    while frame is not None and frame.f_code is not guard.code:
        frame = frame.f_back
    if innermost is None:
        return "an unknown line"
    where = _line(innermost)
    if frame is not None and frame is not innermost:
        where += f", called from {_line(frame)}"
    return where


def _line(frame: FrameType) -> str:
    code = frame.f_code
    return f"{_short(code.co_filename)}:{frame.f_lineno} in {code.co_name}"


def _short(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


WATCHDOG: Final = Watchdog()
