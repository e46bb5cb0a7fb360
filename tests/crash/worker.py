"""The campaign's worker process: an engine serving the workload, fed through a drop folder.

DuckDB lets one process at a time open the file, so requests from the
campaign (another process) arrive as JSON files in ``DIR/drop``; a thread
turns each into `Engine.start` or `Engine.signal`. A signal is logged to
``DIR/accepted.log`` once `Engine.signal` has returned (it is durable); a
file whose signal is already in history (the worker died between the two)
is not sent again, as any at-least-once client would do with a request id.

Usage: python -m tests.crash.worker DB DIR INCARNATION [--drain]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aion
from aion._events import SignalReceived
from tests.crash import workload

TERMINAL = ("completed", "failed", "cancelled")


def _already_signalled(engine: aion.Engine, request: dict[str, Any]) -> bool:
    for event in engine.history(request["id"]):
        if (
            isinstance(event, SignalReceived)
            and not getattr(event, "carried", False)
            and event.payload == request["payload"]
        ):
            return True
    return False


def _handle(engine: aion.Engine, request: dict[str, Any], accepted: int) -> bool:
    """Apply one dropped request; False to leave it for later."""
    if request["op"] == "start":
        if engine.store.info(request["id"]) is None:
            engine.start(request["workflow"], *request["args"], workflow_id=request["id"])
        return True
    if engine.store.info(request["id"]) is None:
        return False  # its workflow's start has not been applied yet
    if not _already_signalled(engine, request):
        engine.signal(request["id"], request["name"], request["payload"])
    os.write(accepted, f"{request['id']} {request['payload']['sid']}\n".encode())
    return True


def _channel(engine: aion.Engine, folder: Path, stop: threading.Event, accepted: int) -> None:
    drop = folder / "drop"
    while not stop.is_set():
        for path in sorted(drop.glob("*.json")):
            request = json.loads(path.read_text())
            if _handle(engine, request, accepted):
                path.unlink()
        time.sleep(0.01)


def _drained(engine: aion.Engine, folder: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(0.1)
        if any((folder / "drop").glob("*.json")):
            continue
        if all(info.status in TERMINAL for info in engine.list()):
            stop.set()


def main(argv: list[str]) -> int:
    """Serve until killed (or, with ``--drain``, until every workflow has finished)."""
    db, folder, incarnation = argv[0], Path(argv[1]), int(argv[2])
    workload.configure(str(folder / "exec.log"), incarnation)
    status = os.open(folder / "status.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(status, f"{incarnation} spawned\n".encode())
    engine = aion.Engine(db, workflows=workload.WORKFLOWS, activities=workload.ACTIVITIES)
    recovered = len(engine.list(status="running"))
    os.write(status, f"{incarnation} ready recovered={recovered}\n".encode())
    accepted = os.open(folder / "accepted.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    stop = threading.Event()
    threading.Thread(target=_channel, args=(engine, folder, stop, accepted), daemon=True).start()
    if "--drain" in argv:
        threading.Thread(target=_drained, args=(engine, folder, stop), daemon=True).start()
    engine.serve(stop)
    engine.close()
    os.write(status, f"{incarnation} drained\n".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
