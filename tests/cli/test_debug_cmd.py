# ruff: noqa: E501 - expected outputs are whole 100-column terminal lines
"""`aion debug --until SEQ --show ...`: the non-interactive stepper."""

from __future__ import annotations

from tests.cli.conftest import SAMPLE, Invoke
from tests.cli.test_read_cmds import lines


def test_debug_until_a_seq_shows_locals_and_where(invoke: Invoke) -> None:
    result = invoke(
        "debug", "order-1", "-m", SAMPLE, "--until", "4", "--show", "locals", "--show", "where"
    )
    assert result.exit_code == 0
    assert lines(result.output) == (
        "seq 4 TimerStarted #2 30s until 2026-01-01T00:00:30+00:00  → tests/cli/sample_workflows.py:31\n"
        "order_id  'o-1'\n"
        "cents     1299\n"
        "receipt   'rcpt-o-1-1299'\n"
        "tests/cli/sample_workflows.py:31\n"
        "    29  def order(order_id: str, cents: int) -> Any:\n"
        "    30      receipt = yield aion.call(charge, order_id, cents)\n"
        "→   31      yield aion.sleep(timedelta(seconds=30))\n"
        "    32      total = cents * 2\n"
        '    33      return {"receipt": receipt, "total": total}\n'
    )


def test_debug_past_the_end_reports_the_outcome(invoke: Invoke) -> None:
    result = invoke("debug", "order-1", "-m", SAMPLE, "--until", "99", "--show", "history")
    assert result.exit_code == 0
    assert lines(result.output) == (
        'seq 6 WorkflowCompleted result {"receipt":"rcpt-o-1-1299","total":2598}  → workflow completed\n'
        'seq 1 WorkflowStarted order("o-1", 1299)\n'
        'seq 2 ActivityScheduled #1 charge("o-1", 1299)\n'
        'seq 3 ActivityCompleted #1 result "rcpt-o-1-1299"\n'
        "seq 4 TimerStarted #2 30s until 2026-01-01T00:00:30+00:00\n"
        "seq 5 TimerFired #2 ordinal 2\n"
        'seq 6 WorkflowCompleted result {"receipt":"rcpt-o-1-1299","total":2598}\n'
    )


def test_debug_stops_at_a_line_breakpoint(invoke: Invoke) -> None:
    result = invoke(
        "debug",
        "appr-1",
        "-m",
        SAMPLE,
        "--break",
        "tests/cli/sample_workflows.py:42",
        "--until",
        "99",
        "--show",
        "locals",
    )
    assert result.exit_code == 0
    first, *rest = lines(result.output).splitlines()
    assert first.startswith("seq 3 ActivityCompleted #1")
    assert first.endswith("→ tests/cli/sample_workflows.py:42")
    assert "stage     'awaiting approval'" in rest
