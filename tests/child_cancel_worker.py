"""A worker process for the child-cancellation crash test (issue 11, defect 4).

    AION_MARKS=DIR python -m tests.child_cancel_worker DB

Starts ``parent`` (if the file does not hold it yet) and serves. The parent
awaits a child under a one-second deadline; the deadline cancels the child,
whose compensation writes ``DIR/compensating`` and then, on its first run
only and when ``DIR/block`` exists, blocks, so the test can SIGKILL this process mid-compensation.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aion


@aion.activity
def compensate(child: str) -> str:
    marks = Path(os.environ["AION_MARKS"])
    first = not (marks / "compensating").exists()
    (marks / "compensating").write_text(child)
    if first and (marks / "block").exists():
        while True:  # killed here
            time.sleep(0.05)
    return f"undid {child}"


@aion.workflow
def saga_child(name: str) -> Any:
    try:
        yield aion.receive_signal("never")
    except aion.Cancelled:
        yield aion.call(compensate, name)
        raise
    return "unreachable"


@aion.workflow
def parent(name: str) -> Any:
    try:
        value = yield aion.with_timeout(
            timedelta(seconds=1), aion.await_child(saga_child, name, workflow_id="p/child")
        )
    except aion.Timeout:
        return "timed out"
    return value


def main() -> None:
    db = sys.argv[1]
    engine = aion.Engine(db, workflows=[parent, saga_child], activities=[compensate])
    if not engine.list():
        engine.start(parent, "order-1", workflow_id="p")
    print("ready", flush=True)
    engine.serve()


if __name__ == "__main__":
    main()
