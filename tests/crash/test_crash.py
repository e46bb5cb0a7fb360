"""The crash campaign in the test suite: 20+ real SIGKILLs, plus proof its checks can fail."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.crash import campaign

pytestmark = pytest.mark.slow


def test_crash_campaign_twenty_kills(tmp_path: Path) -> None:
    report = campaign.run(kills=20, seed=20260101, folder=tmp_path, delays=(0.2, 1.2))
    print(report.summary())
    assert report.violations == []
    assert report.kills == 20
    assert report.recoveries >= 1  # some kills left running workflows to recover
    assert report.counts["results compared with a crash-free run"] >= 12
    assert report.counts["signals consumed exactly once"] == report.counts["signals accepted"]
    assert report.counts["activity executions checked"] > 0


@pytest.fixture
def one_round(tmp_path: Path) -> campaign.Campaign:
    run = campaign.Campaign(tmp_path, seed=3)
    for _ in range(6):  # killed once an activity ran, until one's completion is recorded
        run.round(after_progress=True)
        run.check()
        assert run.report.violations == []
        if run.completed_in:
            break
    assert run.rows
    assert run.completed_in
    return run


def test_checker_sees_a_rewritten_event(one_round: campaign.Campaign) -> None:
    con = duckdb.connect(one_round.db)
    con.execute("UPDATE events SET source = 'forged.py:1' WHERE seq = 2")
    con.close()
    one_round.check()
    assert any("recorded events changed" in v for v in one_round.report.violations)


def test_checker_sees_a_seq_gap(one_round: campaign.Campaign) -> None:
    con = duckdb.connect(one_round.db)
    con.execute("UPDATE events SET seq = seq + 100 WHERE seq = 2")
    con.close()
    one_round.check()
    assert any("seqs are not 1..n" in v for v in one_round.report.violations)


def test_checker_sees_a_recorded_activity_run_again(one_round: campaign.Campaign) -> None:
    key = next(iter(one_round.completed_in))
    with (one_round.folder / "exec.log").open("a") as log:
        log.write(f"{one_round.incarnation + 1} {key} 1\n")
    one_round.check()
    assert any(f"activity {key} ran again" in v for v in one_round.report.violations)


def test_checker_sees_a_duplicated_signal(one_round: campaign.Campaign) -> None:
    con = duckdb.connect(one_round.db)
    con.execute(
        "INSERT INTO events SELECT workflow_id, (SELECT max(seq) FROM events m "
        "WHERE m.workflow_id = e.workflow_id) + 1, run_id, kind, ordinal, name, payload, "
        "recorded_at, source, digest FROM events e WHERE kind = 'SignalReceived' "
        "AND NOT CAST(payload->>'carried' AS BOOLEAN) LIMIT 1"
    )
    con.close()
    one_round.check()
    assert any("was recorded 2 times" in v for v in one_round.report.violations)


def test_checker_sees_an_event_after_a_runs_end(one_round: campaign.Campaign) -> None:
    con = duckdb.connect(one_round.db)
    # The run of a workflow with at least three events "ends" at seq 2: seq 3 follows its end.
    con.execute(
        "UPDATE events SET kind = 'WorkflowContinuedAsNew' WHERE seq = 2 AND workflow_id = "
        "(SELECT workflow_id FROM events GROUP BY workflow_id HAVING max(seq) >= 3 LIMIT 1)"
    )
    con.close()
    one_round.check()
    assert any("after its end at seq 2" in v for v in one_round.report.violations)
