"""A saga: book a hotel, charge a card, ship tickets; compensate on failure or cancel.

Each step that succeeded registers its undo. If a later step fails, or the
trip is cancelled while it waits for confirmation, the undos run in reverse
order and the error goes on. Activities are at-least-once, so each one makes
its effect idempotent with ``aion.activity_info().idempotency_key``: a crash
in the middle of compensation re-runs an undo, never applies it twice.

Run it::

    python examples/saga.py
"""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import aion

#: Where the example's "outside world" keeps its effects (one JSON line per effect).
LEDGER = Path(os.environ.get("AION_SAGA_LEDGER", "saga-ledger.jsonl"))
_lock = threading.Lock()


def apply_once(action: str, subject: str) -> str:
    """Record ``action`` in the ledger unless this activity call already did."""
    key = aion.activity_info().idempotency_key
    with _lock:
        seen = set()
        if LEDGER.exists():
            seen = {json.loads(line)["key"] for line in LEDGER.read_text().splitlines() if line}
        if key not in seen:
            with LEDGER.open("a") as f:
                f.write(json.dumps({"key": key, "action": action, "subject": subject}) + "\n")
                f.flush()
                os.fsync(f.fileno())
    return f"{action}:{subject}"


@aion.activity
def book_hotel(trip_id: str) -> str:
    return apply_once("book", trip_id)


@aion.activity
def cancel_hotel(booking: str) -> str:
    return apply_once("unbook", booking)


@aion.activity
def charge_card(trip_id: str, cents: int) -> str:
    return apply_once("charge", f"{trip_id}/{cents}")


@aion.activity
def refund_card(charge: str) -> str:
    return apply_once("refund", charge)


@aion.activity(retry=aion.RetryPolicy(max_attempts=1))
def ship_tickets(trip_id: str) -> str:
    if trip_id.startswith("fail"):
        msg = f"no tickets left for {trip_id}"
        raise RuntimeError(msg)
    return apply_once("ship", trip_id)


@aion.workflow
def trip(trip_id: str, cents: int):  # type: ignore[no-untyped-def]
    """Book, charge, wait an hour for confirmation, ship; undo in reverse on failure."""
    undo: list[Any] = []
    try:
        booking = yield aion.call(book_hotel, trip_id)
        undo.append(aion.call(cancel_hotel, booking))
        charge = yield aion.call(charge_card, trip_id, cents)
        undo.append(aion.call(refund_card, charge))
        yield aion.sleep(timedelta(hours=1))
        tickets = yield aion.call(ship_tickets, trip_id)
    except (aion.ActivityError, aion.Cancelled):
        for step in reversed(undo):
            yield step
        raise
    return {"booking": booking, "charge": charge, "tickets": tickets}


WORKFLOWS = [trip]
ACTIVITIES = [book_hotel, cancel_hotel, charge_card, refund_card, ship_tickets]


def main() -> None:  # pragma: no cover - exercised by tests/test_lifecycle.py in a subprocess
    """Run three trips: one that ships, one whose shipping fails, one cancelled mid-way."""
    from rich.console import Console

    console = Console()
    LEDGER.unlink(missing_ok=True)
    clock = aion.ManualClock()
    with aion.Engine(":memory:", workflows=WORKFLOWS, activities=ACTIVITIES, clock=clock) as engine:
        engine.start(trip, "t-ok", 1200, workflow_id="t-ok")
        engine.start(trip, "fail-1", 900, workflow_id="fail-1")
        engine.start(trip, "t-cancel", 500, workflow_id="t-cancel")
        engine.run_until_idle()
        engine.cancel("t-cancel", "customer changed their mind")
        for workflow_id in ("t-ok", "fail-1", "t-cancel"):
            try:
                console.print(workflow_id, "->", engine.run_until_complete(workflow_id))
            except aion.AionError as exc:
                console.print(workflow_id, "->", type(exc).__name__, str(exc))
    console.print(LEDGER.read_text())


if __name__ == "__main__":
    main()
