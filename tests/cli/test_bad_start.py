"""The CLI on a bad start (issue 11, defect 10): a usage error, and no bricked file."""

from __future__ import annotations

from pathlib import Path

import aion
from tests.cli import sample_workflows as s
from tests.cli.conftest import SAMPLE, Invoke, run_aion
from tests.helpers import count_events, record_bad_start


def test_cli_start_without_arguments_is_a_usage_error_and_records_nothing(
    invoke: Invoke, fixed_db: Path
) -> None:
    before = count_events(fixed_db)
    result = invoke("start", f"{SAMPLE}:order", "--id", "o-none")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == (
        "error: cannot start workflow 'order': order(order_id, cents) "
        "cannot take 0 argument(s): missing a required argument: 'order_id'."
    )
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2
    assert count_events(fixed_db) == before


def test_cli_on_a_file_holding_a_bad_start_still_works(tmp_path: Path) -> None:
    """The issue's reproduction: `worker`, `run` and `replay --all` after a bad start."""
    db = tmp_path / "shop.duckdb"
    record_bad_start(db, "bad", [])
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
