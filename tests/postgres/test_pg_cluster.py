"""Many worker processes on one PostgreSQL store: chaos, a web app beside them, takeover.

Real processes, real signals: workers are SIGKILLed and SIGSTOPped past their
lease at seeded moments (see `tests.postgres.chaos`); the checks are the
issue's: every workflow completes with its crash-free result, seqs are
1..n, every accepted signal is recorded exactly once, no fenced owner ever
wrote after a takeover (``events.written_by``), and every history replays.
``nox -s chaos`` runs the same campaign on 2,000 workflows.
"""

from __future__ import annotations

from tests.postgres import chaos


def test_four_workers_killed_and_paused_lose_and_double_nothing(pg_url: str) -> None:
    figures = chaos.run(pg_url, workflows=80, workers=4, lease=1.5, seed=3, nap=2.0, limit=120)
    assert figures["kills"] >= 1 and figures["pauses"] >= 1, figures
    assert figures["handovers"] >= 1, figures  # some workflow changed hands mid-run
    # A paused worker found its lease gone on waking, and went on under a new session.
    assert figures["sessions_lost_and_replaced"] >= 1, figures


def test_a_web_app_process_starts_and_signals_while_workers_run(pg_url: str) -> None:
    figures = chaos.web_app(pg_url, 200, workers=2)
    assert figures["web_app_workflows"] == 200 and figures["events"] > 0
