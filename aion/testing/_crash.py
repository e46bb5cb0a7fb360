"""Crash and recover a kit run: restart on what was durable after commit k, then finish.

The driver records every batch the engine commits, so the store as it stood
after any commit can be rebuilt; a fresh engine recovers from it, and the
actions whose effects were lost are redone in their order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from aion._clock import ManualClock
from aion.store import Append, MemoryStore
from aion.testing._driver import (
    RecordingStore,
    Run,
    Schedule,
    drive,
    finished,
    new_engine,
    perform,
    schedule_chooser,
    settle_threads,
)
from aion.testing._executor import ScheduledExecutor


def _events_at(batch: Iterable[Append]) -> datetime:
    return max(e.recorded_at for item in batch for e in item.events)


def recover(original: Run, k: int) -> Run:
    """Crash ``original`` after its k-th commit, restart on what was durable, and finish.

    A fresh store gets the first ``k`` batches; a new engine opens it (for
    DuckDB: a new file, closed and reopened, as after a real crash) and
    recovers; then the actions whose effects were lost are redone in order,
    and the run is driven to its end with the default choices.
    """
    setup = original.setup
    batches = original.store.batches[:k]
    clock = ManualClock(_events_at(batches[-1]))
    executor = ScheduledExecutor(setup.mocks, recorded=original.executor.outcomes)
    workdir: Path | None = None
    if setup.store == "memory":
        fresh = MemoryStore()
        for batch in batches:
            fresh.append(batch)
        store = RecordingStore(fresh)
        engine = new_engine(setup, store, None, clock, executor)
    else:
        from aion.store import DuckDBStore  # only store="duckdb" pays for importing duckdb

        workdir = Path(tempfile.mkdtemp(prefix="aion-crash-"))
        path = str(workdir / "crashed.duckdb")
        writer = DuckDBStore(path)
        for batch in batches:
            writer.append(batch)
        writer.close()
        engine = new_engine(setup, None, path, clock, executor)
        store = RecordingStore(engine.store)
        engine.store = store
    run = Run(setup, engine, executor, clock, store, [], workdir, owns_store=workdir is not None)
    try:
        redo = [a for a in original.trace if a.committed_before >= k]
        run.delivered = {
            a.signal
            for a in original.trace
            if a.signal is not None and a.kind == "signal" and a.committed_before < k
        }
        for action in redo:
            run.engine.run_until_idle()
            settle_threads(run)
            if finished(run):
                break
            if action.kind == "advance" and action.to is not None and action.to <= run.clock.now():
                continue
            perform(run, action)
        return drive(run, schedule_chooser(Schedule(), failures=False))
    except BaseException:
        run.close()
        raise
