"""Committing one step's batch through store failures.

Two DuckDB failures are survivable without losing or doubling anything:

* a conflict (``TransactionException``, `StoreConflictError`): the
  transaction was rolled back, so the very same batch is appended again;
* a fatal error (``FatalException``, `StoreInvalidatedError`, e.g. disk full
  while checkpointing): the instance is dead and whether the commit landed is
  unknown, so the store is reopened and its heads are compared with the
  batch. The batch is one transaction, so either every workflow's head moved
  past it (it landed: done) or none did (append it again).

Anything else, or the same failure past a few tries, goes back to the engine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from aion._errors import StoreConflictError, StoreError, StoreInvalidatedError
from aion.store import Append, Store

#: How many times one batch is tried before the failure is reported.
TRIES: Final = 5
#: The first pause between tries (doubled each time): conflicts clear quickly.
FIRST_PAUSE: Final = 0.01


def commit(store: Store, batch: Sequence[Append]) -> None:
    """Append ``batch`` durably, retrying conflicts and reopening after fatal errors.

    Raises:
        aion.StoreConflictError: Conflicts persisted; nothing of the batch was written.
        aion.StoreInvalidatedError: The store could not be reopened, so whether the
            batch landed is unknown: the engine must stop and recover on restart.
        aion.StoreError: Any other store failure.
    """
    pause = FIRST_PAUSE
    for attempt in range(1, TRIES + 1):
        try:
            store.append(batch)
            return
        except StoreConflictError:
            if attempt == TRIES:
                raise
        except StoreInvalidatedError as exc:
            reopen = getattr(store, "reopen", None)
            if reopen is None:
                raise
            try:
                reopen()
            except StoreError as reopen_error:
                msg = (
                    f"{exc} Reopening failed too ({reopen_error}); whether the last batch was "
                    "recorded is unknown until the engine is restarted on this file."
                )
                raise StoreInvalidatedError(msg) from reopen_error
            if landed(store, batch):
                return
            if attempt == TRIES:
                raise
        time.sleep(pause)
        pause *= 2


def landed(store: Store, batch: Sequence[Append]) -> bool:
    """Whether ``batch`` is in the store (True) or absent (False), judged by the heads.

    Raises:
        aion.StoreError: Only part of the batch is there, which one transaction
            cannot produce: the file was changed by something else.
    """
    heads = []
    for item in batch:
        info = store.info(item.workflow_id)
        heads.append(info.last_seq if info is not None else 0)
    if all(h == a.expected_seq + len(a.events) for h, a in zip(heads, batch, strict=True)):
        return True
    if all(h == a.expected_seq for h, a in zip(heads, batch, strict=True)):
        return False
    msg = (
        "after reopening, the store holds part of the engine's last batch (one transaction): "
        "the database was modified by something else."
    )
    raise StoreError(msg)
