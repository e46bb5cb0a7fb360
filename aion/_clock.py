"""Clocks: where the engine reads time. `ManualClock` gives tests virtual time.

Workflow code never reads a clock: `aion.now()` is the recorded time of the
latest event the workflow consumed. The engine's clock decides when timers are
due and stamps new events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from aion._errors import ConfigurationError


@runtime_checkable
class Clock(Protocol):
    """The engine's source of time."""

    def now(self) -> datetime:
        """The current aware UTC time."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        """The current aware UTC time."""
        return datetime.now(UTC)


class ManualClock:
    """Virtual time that moves only when told to (or when an engine skips ahead).

    ``run_until_complete`` jumps a `ManualClock` to the next due timer whenever
    nothing else can run, so a workflow that sleeps for 30 days finishes in
    milliseconds.

    Args:
        start: The initial time (aware); defaults to the wall-clock time now.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            msg = "ManualClock(start=...) needs an aware datetime (e.g. tzinfo=UTC)."
            raise ConfigurationError(msg)
        self._now = (start or datetime.now(UTC)).astimezone(UTC)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        """The current virtual time."""
        with self._lock:
            return self._now

    def advance(self, duration: timedelta | float) -> datetime:
        """Move time forward by ``duration`` (a timedelta or seconds); returns the new time."""
        delta = duration if isinstance(duration, timedelta) else timedelta(seconds=duration)
        if delta < timedelta(0):
            msg = f"ManualClock cannot go backwards (advance by {delta})."
            raise ConfigurationError(msg)
        with self._lock:
            self._now += delta
            now = self._now
        for listener in list(self._listeners):
            listener()
        return now

    def advance_to(self, when: datetime) -> datetime:
        """Move time forward to ``when`` (no-op if it is in the past)."""
        with self._lock:
            delta = when - self._now
        return self.advance(delta) if delta > timedelta(0) else self.now()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever time moves (engines wake their timer loops)."""
        self._listeners.append(listener)
