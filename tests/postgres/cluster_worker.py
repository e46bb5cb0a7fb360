"""A worker of the multi-worker tests: ``python -m tests.postgres.cluster_worker URL LEASE``.

Serves `cluster_flows` until SIGTERM (a clean stop ends its session); prints
``ready`` once its first session is registered.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from aion._cluster import ClusterWorker
from tests.postgres.cluster_flows import ACTIVITIES, WORKFLOWS


def main() -> None:
    url, lease = sys.argv[1], float(sys.argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = ClusterWorker(url, workflows=WORKFLOWS, activities=ACTIVITIES, lease_seconds=lease)
    thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    thread.start()
    while worker.sessions == 0 and thread.is_alive():
        time.sleep(0.01)
    print("ready", flush=True)
    while thread.is_alive():
        thread.join(0.2)


if __name__ == "__main__":
    main()
