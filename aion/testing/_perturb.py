"""What a replay changes so that leaks into workflow code show up as divergences.

The step audit reports what workflow code touches; a use the user allowed
(`allow_nondeterminism`) may still change the commands. So between recording
and replay the kit reseeds ``random``, skews the clocks by hours and days
(across midnight) and shuffles directory listings, on the stepping thread
only, and a leak that matters becomes a divergence.
"""

from __future__ import annotations

import glob
import os
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs


@attrs.define
class Perturbation:
    """What a replay changes so that leaks into workflow code show up as divergences.

    Attributes:
        seed: Seeds the changes (different for each replay).
        skew: How far the clocks move (hours and days, across midnight).
    """

    seed: int
    skew: timedelta

    @classmethod
    def draw(cls, rng: random.Random) -> Perturbation:
        """A fresh perturbation: 1-3 days and 5-19 hours ahead, so the date changes."""
        return cls(rng.getrandbits(64), timedelta(days=rng.randint(1, 3), hours=rng.randint(5, 19)))


def perturb(p: Perturbation, ident: int) -> Callable[[], None]:
    """Reseed ``random``, skew the clocks and shuffle listings for thread ``ident``."""
    rng = random.Random(p.seed)
    state = random.getstate()
    random.seed(rng.getrandbits(64))
    offset = p.skew.total_seconds()
    saved: dict[tuple[Any, str], Any] = {}

    def patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        real = getattr(owner, name)
        saved[(owner, name)] = real

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = real(*args, **kwargs)
            return make(value) if threading.get_ident() == ident else value

        setattr(owner, name, wrapper)

    patch(time, "time", lambda v: v + offset)
    patch(time, "time_ns", lambda v: v + int(offset * 1e9))
    patch(time, "monotonic", lambda v: v + offset)
    patch(time, "monotonic_ns", lambda v: v + int(offset * 1e9))

    def shuffled(v: Any) -> Any:
        items = list(v)
        rng.shuffle(items)
        return items

    patch(os, "listdir", shuffled)
    patch(glob, "glob", shuffled)

    def undo() -> None:
        for (owner, name), real in saved.items():
            setattr(owner, name, real)
        random.setstate(state)

    return undo
