"""Remembering request ids, so a replayed endpoint request never runs twice.

Every request to a worker's endpoint carries a random id and the time it
was sent. The worker runs each id once and answers a repeat with the first
answer (a client retrying after a dropped connection gets what it missed);
a request older than the window it remembers ids for is refused, so no
request can run twice however late it is replayed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

#: How long ids are remembered, and how far a request's time may be from the worker's.
WINDOW = 600.0
#: At most this many ids are kept; beyond it the window shrinks to what is remembered.
MAX_IDS = 100_000

Reply = tuple[int, dict[str, Any]]
_PENDING: Reply = (409, {"ok": False, "error": {"message": "the same request is still running"}})


class RequestLog:
    """Which request ids ran, with their replies."""

    def __init__(self, window: float = WINDOW, max_ids: int = MAX_IDS) -> None:
        self.window = window
        self.max_ids = max_ids
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[float, Reply | None]] = OrderedDict()
        self._floor = 0.0  # requests sent before this are older than what is remembered

    def begin(self, request_id: str, sent_at: float) -> Reply | None:
        """None if the request should run now; else the reply to give instead."""
        now = time.time()
        with self._lock:
            self._forget(now)
            if request_id in self._seen:
                reply = self._seen[request_id][1]
                return _PENDING if reply is None else reply
            if abs(now - sent_at) > self.window or sent_at < self._floor:
                message = "request is too old (or its clock too far off) to be checked for replay"
                return 400, {"ok": False, "error": {"message": message}}
            self._seen[request_id] = (sent_at, None)
            return None

    def finish(self, request_id: str, reply: Reply) -> None:
        """Record the reply a request got (what a repeat of it is answered)."""
        with self._lock:
            if request_id in self._seen:
                self._seen[request_id] = (self._seen[request_id][0], reply)

    def _forget(self, now: float) -> None:
        while self._seen:
            oldest_id, (sent_at, reply) = next(iter(self._seen.items()))
            too_many = len(self._seen) >= self.max_ids
            if (sent_at >= now - self.window and not too_many) or reply is None:
                break
            del self._seen[oldest_id]
            self._floor = max(self._floor, sent_at)
