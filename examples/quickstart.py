"""aion in one file: a real workflow on the embedded DuckDB default, end to end.

An order charges a card (the first attempt fails and is retried after a
durable backoff), waits on a durable timer, waits for an approval signal
sent from another thread, and ships. Every step is recorded in
``quickstart.duckdb``; run it again and a second order joins the first one
in the same file.

    python examples/quickstart.py
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

import aion
from aion._describe import event_summary


@aion.activity(retry=aion.RetryPolicy(max_attempts=3, initial_interval=timedelta(milliseconds=200)))
def charge(order_id: str, cents: int) -> dict[str, Any]:
    """Charge the card (the first attempt fails, to show a durable retry)."""
    if aion.activity_info().attempt == 1:
        msg = "payment gateway timed out"
        raise ConnectionError(msg)
    return {"receipt": f"r-{order_id}", "cents": cents}


@aion.activity
def ship(order_id: str) -> str:
    """Hand the parcel to the carrier."""
    return f"parcel-{order_id}"


@aion.workflow
def order(order_id: str, cents: int):  # type: ignore[no-untyped-def]
    """Charge, cool off for a moment, wait for approval, ship."""
    receipt = yield aion.call(charge, order_id, cents)
    yield aion.sleep(timedelta(seconds=1))
    approved = yield aion.receive_signal("approve")
    if not approved:
        return {"receipt": receipt, "shipped": None}
    parcel = yield aion.call(ship, order_id)
    return {"receipt": receipt, "shipped": parcel}


def main() -> None:
    """Run one order to completion and print its result and history."""
    console = Console()
    with aion.Engine("quickstart.duckdb", workflows=[order], activities=[charge, ship]) as engine:
        workflow_id = f"order-{len(engine.list()) + 1}"
        handle = engine.start(order, workflow_id, 1299, workflow_id=workflow_id)
        threading.Timer(1.5, engine.signal, args=(workflow_id, "approve", True)).start()
        result = handle.result(timeout=30)
        history = engine.history(workflow_id)
    console.print(f"[bold]{workflow_id}[/bold] completed: {result}")
    table = Table(title=f"history of {workflow_id} (quickstart.duckdb)")
    for column in ("seq", "kind", "ordinal", "summary", "source"):
        table.add_column(column)
    for event in history:
        ordinal = getattr(event, "ordinal", None)
        table.add_row(
            str(event.seq),
            type(event).__name__,
            "" if ordinal is None else str(ordinal),
            event_summary(event),
            getattr(event, "source", ""),
        )
    console.print(table)


if __name__ == "__main__":
    main()
