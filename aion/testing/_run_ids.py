"""Seeded run ids for kit runs: the same schedule draws the same ids every time."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator
from typing import Any


class _SeededUUID:
    """The ``uuid`` module as the engine sees it during a kit run: seeded ``uuid4``."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    def __getattr__(self, name: str) -> Any:
        return getattr(uuid, name)


@contextlib.contextmanager
def seeded_run_ids(seed: int = 0) -> Iterator[None]:
    """Make the run ids the engine draws during a kit run depend on ``seed`` only.

    Run ids seed ``aion.random()``/``aion.uuid4()``, so with random ids the
    same schedule recorded different values each time: a reported seed did not
    reproduce the exact run, and no replay answer could be reused. Only the
    engine modules' reference to ``uuid`` is replaced, never the ``uuid``
    module itself, so workflow code calling ``uuid.uuid4()`` is untouched
    (and still reported by the audit).
    """
    from aion._engine import _effects
    from aion._engine import _engine as engine_module

    shim = _SeededUUID(seed)
    patched = [m for m in (engine_module, _effects) if getattr(m, "uuid", None) is uuid]
    for module in patched:
        vars(module)["uuid"] = shim
    try:
        yield
    finally:
        for module in patched:
            vars(module)["uuid"] = uuid
