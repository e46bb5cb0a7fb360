"""The CLI on a bad start (issue 11, defect 10): a usage error, and no bricked file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aion
from aion._events import WorkflowStarted
from aion.store import Append
from tests.cli import sample_workflows as s
from tests.cli.conftest import SAMPLE, Invoke, run_aion


def _events(path: Path) -> int:
    store = aion.DuckDBStore(path, read_only=True)
    try:
        return sum(len(h) for h in store.histories().values())
    finally:
        store.close()


def _record_bad_start(path: Path, workflow_id: str, args: list[Any]) -> None:
    store = aion.DuckDBStore(path)
    try:
        started = WorkflowStarted(
            seq=1,
            run_id=f"run-{workflow_id}",
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
            name="order",
            args=args,
            workflow_id=workflow_id,
        )
        store.append([Append(workflow_id=workflow_id, expected_seq=0, events=[started])])
    finally:
        store.close()


def test_cli_start_without_arguments_is_a_usage_error_and_records_nothing(
    invoke: Invoke, fixed_db: Path
) -> None:
    before = _events(fixed_db)
    result = invoke("start", f"{SAMPLE}:order", "--id", "o-none")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == (
        "error: cannot start workflow 'order': order(order_id, cents) "
        "cannot take 0 argument(s): missing a required argument: 'order_id'."
    )
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2
    assert _events(fixed_db) == before


def test_cli_on_a_file_holding_a_bad_start_still_works(tmp_path: Path) -> None:
    """The issue's reproduction: `worker`, `run` and `replay --all` after a bad start."""
    db = tmp_path / "shop.duckdb"
    _record_bad_start(db, "bad", [])
    replayed = run_aion("--db", str(db), "replay", "--all", "-m", SAMPLE)
    assert "Traceback" not in replayed.stderr + replayed.stdout
    # The one history cannot run under this code: reported as a history error, not a crash.
    assert replayed.returncode == 3
    assert "does not fit its code" in replayed.stdout
    ran = run_aion("--db", str(db), "run", f"{SAMPLE}:quick", "3", "--id", "q")
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    with aion.Engine(str(db), workflows=[s.order, s.quick], activities=[s.charge, s.double]) as e:
        assert e.describe("bad").status == "stalled"
        assert e.describe("q").status == "completed"
