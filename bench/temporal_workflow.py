"""The Temporal side of the peer comparison (imported only when temporalio is installed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow


@activity.defn
async def step(i: int) -> dict[str, Any]:
    """A no-op activity with the same small result as aion's."""
    return {"i": i, "ok": True}


@workflow.defn
class Sequential:
    """N sequential activities."""

    @workflow.run
    async def run(self, n: int) -> int:
        """Call ``step`` n times, one after the other."""
        total = 0
        for i in range(n):
            out = await workflow.execute_activity(
                step, i, start_to_close_timeout=timedelta(seconds=30)
            )
            total += out["i"]
        return total
