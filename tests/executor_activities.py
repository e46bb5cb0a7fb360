"""Activities the executor tests run in worker processes (importable, so picklable)."""

from __future__ import annotations

import os
from typing import Any

import aion


@aion.activity
def count_primes(limit: int) -> dict[str, Any]:
    """CPU-bound: the primes below ``limit``, counted the slow way, and where it ran."""
    count = sum(1 for n in range(2, limit) if all(n % d for d in range(2, int(n**0.5) + 1)))
    info = aion.activity_info()
    return {"primes": count, "pid": os.getpid(), "key": info.idempotency_key}


@aion.activity(retry=aion.RetryPolicy(max_attempts=2))
def always_fails(why: str) -> str:
    raise ValueError(f"refused: {why} (in {os.getpid()})")


@aion.activity
async def async_double(n: int) -> int:
    return n * 2


@aion.workflow
def crunch(limits: list[int]) -> Any:
    found = yield aion.collect_map(count_primes, [(n,) for n in limits])
    doubled = yield aion.call(async_double, found[0]["primes"])
    try:
        yield aion.call(always_fails, "no")
    except aion.ActivityError as err:
        failure = {"type": err.cause_type, "message": err.message, "attempts": err.attempts}
    return {"found": found, "doubled": doubled, "failure": failure}
