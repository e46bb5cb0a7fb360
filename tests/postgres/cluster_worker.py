"""A worker of the multi-worker tests: ``python -m tests.postgres.cluster_worker URL LEASE``.

Exactly what a user runs on each machine, ``aion.Engine(url, ...).serve()``,
with the lease given in the URL (``aion_lease``). Serves `cluster_flows`
until SIGTERM (a clean stop ends its session); prints ``ready`` once its
first session is registered and its claims recovered. It logs each session
it loses to stderr (the chaos check counts them).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import aion
from tests.postgres.cluster_flows import ACTIVITIES, WORKFLOWS


def with_lease(url: str, lease: float) -> str:
    """``url`` with ``aion_lease`` set."""
    return f"{url}{'&' if '?' in url else '?'}aion_lease={lease}"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")  # to stderr
    url, lease = sys.argv[1], float(sys.argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    engine = aion.Engine(with_lease(url, lease), workflows=WORKFLOWS, activities=ACTIVITIES)
    print("ready", flush=True)
    try:
        engine.serve(stop)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
