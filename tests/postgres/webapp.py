"""A web-app-shaped process: ``python -m tests.postgres.webapp URL COUNT``.

It runs no worker: through `aion.Client` it starts COUNT ``order`` workflows
and signals each one (as request handlers would), then prints one JSON line
with how many it started and signalled. `plan` says what each was given.
"""

from __future__ import annotations

import json
import sys

import aion
from tests.postgres.cluster_flows import order


def plan(count: int) -> dict[str, tuple[int, int, int]]:
    """Workflow id -> (n, rounds, bonus) for the COUNT workflows the process starts."""
    return {f"web{i}": (i % 7 + 1, 1 + i % 2, i % 100) for i in range(count)}


def main() -> None:
    url, count = sys.argv[1], int(sys.argv[2])
    started = signalled = 0
    with aion.Client(url, workflows=[order]) as client:
        for wid, (n, rounds, _) in plan(count).items():
            client.start(order, wid, n, rounds, workflow_id=wid)
            started += 1
        for wid, (_, _, bonus) in plan(count).items():
            client.signal(wid, "bonus", bonus)
            signalled += 1
    print(json.dumps({"started": started, "signalled": signalled}), flush=True)


if __name__ == "__main__":
    main()
