"""Creating a store: a kill at any instant leaves no file or a valid one, never a torn one.

DuckDB writes a new file's three 4 KiB headers one after the other; a process
killed between them used to leave 0, 4096 or 8192 bytes that every later open
refused. Now a store is built under a temporary name and linked into place,
and such a torn file, if found, is recognised (it cannot have held a commit)
and replaced.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

import aion
from aion.store import DuckDBStore

ROOT = Path(__file__).resolve().parents[1]


@aion.workflow
def answer():  # type: ignore[no-untyped-def]
    return 42
    yield  # a generator


@pytest.mark.parametrize("size", [0, 4096, 8192])
def test_the_file_a_kill_during_creation_leaves_is_taken_as_new(tmp_path: Path, size: int) -> None:
    whole = tmp_path / "whole.duckdb"
    duckdb.connect(str(whole)).close()  # the headers DuckDB writes for a new file
    torn = tmp_path / "torn.duckdb"
    torn.write_bytes(whole.read_bytes()[:size])
    with pytest.raises(aion.StoreError, match="holds no history"):
        DuckDBStore(torn, read_only=True)
    assert torn.stat().st_size == size  # a read never replaces it
    with aion.Engine(str(torn), workflows=[answer]) as engine:
        engine.start(answer, workflow_id="a")
        assert engine.run_until_complete("a") == 42
    with aion.Engine(str(torn), workflows=[answer]) as engine:
        assert [i.status for i in engine.list()] == ["completed"]
    assert [p.name for p in tmp_path.iterdir() if ".aion-new-" in p.name] == []


def test_a_short_file_that_is_not_duckdb_is_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_bytes(b"\x00" * 8 + b"NOPE" + b"\x00" * 100)
    with pytest.raises(aion.StoreCorruptedError):
        aion.Engine(str(notes))
    assert notes.read_bytes() == b"\x00" * 8 + b"NOPE" + b"\x00" * 100


CREATOR = """
import sys
from aion.store import DuckDBStore
print("creating", flush=True)
DuckDBStore(sys.argv[1]).close()
print("created", flush=True)
"""


def test_sigkill_at_any_instant_of_creation_leaves_no_file_or_a_valid_one(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outcomes = {"absent": 0, "valid": 0}
    for attempt in range(8):
        db = tmp_path / f"s{attempt}.duckdb"
        proc = subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(db)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "creating"
        time.sleep(attempt * 0.008)  # the kill instant, spread over the creation
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if not db.exists():
            outcomes["absent"] += 1
        else:
            DuckDBStore(db, read_only=True).close()  # opens: a whole store
            outcomes["valid"] += 1
        store = DuckDBStore(db)  # and the next writer always gets a working store
        store.close()
        assert DuckDBStore(db, read_only=True).workflows() == []
    print(outcomes)
    assert sum(outcomes.values()) == 8
    leftovers = [p.name for p in tmp_path.iterdir() if ".aion-new-" in p.name]
    assert leftovers == []  # temporary files of killed creations are cleaned up
