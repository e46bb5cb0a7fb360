"""A worker of the multi-worker tests: ``python -m tests.postgres.cluster_worker URL LEASE``.

Serves `cluster_flows` until SIGTERM (a clean stop ends its session); prints
``ready`` once its first session is registered.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from aion._cluster import ClusterWorker
from tests.postgres.cluster_flows import ACTIVITIES, WORKFLOWS


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")  # to stderr
    url, lease = sys.argv[1], float(sys.argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = ClusterWorker(url, workflows=WORKFLOWS, activities=ACTIVITIES, lease_seconds=lease)
    thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    thread.start()
    while not worker.started.wait(0.05) and thread.is_alive():
        pass
    print("ready", flush=True)
    while thread.is_alive():
        thread.join(0.2)


if __name__ == "__main__":
    main()
