"""Replay histories in a fresh interpreter (``python -m aion.testing._isolated``).

`assert_deterministic` runs this in a subprocess with a different
``PYTHONHASHSEED``, so a workflow whose commands depend on the iteration
order of a set (or of anything hashed by string) is caught: the order is
fixed within one process but changes between processes.

Reads a JSON request on stdin::

    {"workflows": [[module, name], ...], "activities": [[module, name], ...],
     "histories": [fixture dict, ...]}

and writes one JSON result per history to stdout:
``{"workflow_id", "ok", "divergence", "error"}``.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from aion import fixtures
from aion._definitions import Registry
from aion._replay import replay


def find(module: str, name: str, attr: str) -> Any:
    """The module-level function registered as ``name`` (by its ``attr`` definition)."""
    mod = importlib.import_module(module)
    for value in vars(mod).values():
        definition = getattr(value, attr, None)
        if definition is not None and getattr(definition, "name", None) == name:
            return value
    return None


def replay_request(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Replay every history of a request; one result dict each."""
    workflows = [find(m, n, "__aion_workflow__") for m, n in request["workflows"]]
    activities = [find(m, n, "__aion_activity__") for m, n in request["activities"]]
    registry = Registry(
        [w for w in workflows if w is not None], [a for a in activities if a is not None]
    )
    out = []
    for data in request["histories"]:
        fixture = fixtures.from_dict(data)
        result = replay(
            fixture.workflow, fixture.events, registry=registry, workflow_id=fixture.workflow_id
        )
        out.append(
            {
                "workflow_id": fixture.workflow_id,
                "ok": result.ok,
                "divergence": str(result.divergence) if result.divergence is not None else None,
                "error": None if result.ok else str(result.error),
            }
        )
    return out


def main() -> None:
    """Entry point: request on stdin, results on stdout."""
    request = json.loads(sys.stdin.read())
    sys.stdout.write(json.dumps(replay_request(request)))


if __name__ == "__main__":
    main()
