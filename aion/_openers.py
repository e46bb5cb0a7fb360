"""Who opens an engine's store from a target string (a file path or a URL).

The store layer opens stores (`aion.store.open_store`). A URL on which an
engine must be one of many workers needs more than a store (a session,
claims, a fenced view), and that is the cluster's business, a layer above
the engine. So the engine opens through `open_engine_store` here, and the
cluster registers its opener when ``aion`` is imported (the package face is
where the layers are wired): the engine never imports the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aion.store import Store

#: ``(target, workflow types) -> store``, or None when the target is not its kind.
Opener = Callable[[str, Sequence[str]], "Store | None"]

_OPENERS: list[Opener] = []


def register(opener: Opener) -> None:
    """Let ``opener`` open the targets it recognises (asked before the store layer)."""
    if opener not in _OPENERS:
        _OPENERS.append(opener)


def open_engine_store(target: str, workflow_types: Sequence[str]) -> Store:
    """The store of an engine opened on ``target``: a registered opener's, else `open_store`'s."""
    for opener in _OPENERS:
        store = opener(target, workflow_types)
        if store is not None:
            return store
    from aion.store import open_store

    return open_store(target)
