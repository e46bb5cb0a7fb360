"""A worker process for the terminate crash test.

    python -m tests.terminate_worker DB

Starts ``parent`` (which starts a child and waits for a signal), terminates
it once it waits, prints ``terminated`` once the request is durable, then
blocks (never closing the engine) so the test can SIGKILL it right there.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import aion


@aion.activity
def mark(name: str) -> str:
    return name


@aion.workflow
def child(name: str) -> Any:
    try:
        value = yield aion.receive_signal("never")
    except aion.Cancelled:
        yield aion.call(mark, f"child {name} compensated")
        raise
    return value


@aion.workflow
def parent(name: str) -> Any:
    yield aion.start_child(child, name, workflow_id="p/child")
    try:
        yield aion.receive_signal("never")
    except aion.Cancelled:
        yield aion.call(mark, "parent compensated")  # terminate must never get here
        raise
    return "unreachable"


def main() -> None:
    engine = aion.Engine(sys.argv[1], workflows=[parent, child], activities=[mark])
    engine.start(parent, "order-1", workflow_id="p")
    engine.run_until_idle()
    engine.terminate("p", reason="crash test")
    print("terminated", flush=True)
    while True:  # killed here
        time.sleep(0.05)


if __name__ == "__main__":
    main()
