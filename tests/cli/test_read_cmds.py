# ruff: noqa: E501 - expected outputs are whole 100-column terminal lines
"""`aion list`, `describe` and `inspect` on fixed histories: exact output."""

from __future__ import annotations

import json
from pathlib import Path

from aion import fixtures
from aion._codec import event_to_dict
from tests.cli.conftest import Invoke, run_id


def lines(text: str) -> str:
    """Output with trailing spaces dropped (rich pads table cells to the column width)."""
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def test_list_shows_every_workflow_newest_first(invoke: Invoke) -> None:
    result = invoke("list")
    assert result.exit_code == 0
    assert lines(result.output) == (
        "id        type       status      started (UTC)         closed (UTC)          events\n"
        "───────────────────────────────────────────────────────────────────────────────────\n"
        "appr-1    approval   running     2026-01-01 00:00:32   -                          4\n"
        "retry-1   retrying   completed   2026-01-01 00:00:30   2026-01-01 00:00:32        5\n"
        "order-1   order      completed   2026-01-01 00:00:00   2026-01-01 00:00:30        6\n"
    )


def test_list_filters_by_status_and_type(invoke: Invoke) -> None:
    running = invoke("list", "--status", "running", "--json")
    assert [w["workflow_id"] for w in json.loads(running.output)] == ["appr-1"]
    typed = invoke("list", "--type", "retrying", "--json")
    assert [w["workflow_id"] for w in json.loads(typed.output)] == ["retry-1"]
    assert invoke("list", "--type", "nothing").output == "no workflows match.\n"


def test_describe_a_waiting_workflow_says_what_it_waits_for(invoke: Invoke, fixed_db: Path) -> None:
    result = invoke("describe", "appr-1")
    assert result.exit_code == 0
    assert lines(result.output) == (
        "workflow  appr-1\n"
        "type      approval\n"
        "status    running\n"
        f"run       {run_id(fixed_db, 'appr-1')} (1 run)\n"
        "started   2026-01-01 00:00:32.000\n"
        "closed    -\n"
        "events    4\n"
        "waiting on:\n"
        "  signal 'approve' at tests/cli/sample_workflows.py:42\n"
    )


def test_describe_a_completed_workflow_shows_its_result(invoke: Invoke, fixed_db: Path) -> None:
    result = invoke("describe", "order-1")
    assert lines(result.output) == (
        "workflow  order-1\n"
        "type      order\n"
        "status    completed\n"
        f"run       {run_id(fixed_db, 'order-1')} (1 run)\n"
        "started   2026-01-01 00:00:00.000\n"
        "closed    2026-01-01 00:00:30.000\n"
        "events    6\n"
        'result    {"receipt": "rcpt-o-1-1299", "total": 2598}\n'
    )
    data = json.loads(invoke("describe", "order-1", "--json").output)
    assert data["status"] == "completed"
    assert data["result"] == {"receipt": "rcpt-o-1-1299", "total": 2598}


def test_unknown_id_is_a_usage_error_with_a_hint(invoke: Invoke) -> None:
    result = invoke("describe", "nope")
    assert result.exit_code == 2
    assert result.output == (
        "error: no workflow with id 'nope' in this store.\n"
        "hint: `aion list` shows the workflows in this database.\n"
    )


def test_inspect_shows_the_timeline_attempts_and_durations(invoke: Invoke, fixed_db: Path) -> None:
    result = invoke("inspect", "retry-1")
    assert result.exit_code == 0
    rid = run_id(fixed_db, "retry-1")
    assert lines(result.output) == (
        f"retry-1 · run 1 of 1 · retrying · {rid} · started 2026-01-01\n"
        "00:00:30.000 UTC\n"
        "seq   time (UTC)     +rel   kind                #   name · payload · source\n"
        "────────────────────────────────────────────────────────────────────────────────────────────────────\n"
        '  1   00:00:30.000    +0s   WorkflowStarted         retrying("k")\n'
        '  2   00:00:30.000    +0s   ActivityScheduled   1   flaky("k")\n'
        "                                                    at tests/cli/sample_workflows.py:49\n"
        "  3   00:00:30.000    +0s   ActivityFailed      1   attempt 1: RuntimeError: transient failure 1,\n"
        "                                                    retry at 2026-01-01T00:00:32+00:00\n"
        '  4   00:00:32.000    +2s   ActivityCompleted   1   result "ok-k"\n'
        '  5   00:00:32.000    +2s   WorkflowCompleted       result "ok-k"\n'
        "\n"
        "#   command    name    attempts   outcome      at   took\n"
        "────────────────────────────────────────────────────────\n"
        "1   activity   flaky          2   completed   +0s     2s\n"
        "  #1 flaky attempt 1 at +0s: RuntimeError: transient failure 1\n"
        "  #1 flaky attempt 2 at +2s: ok\n"
        "\n"
    )


def test_inspect_json_is_the_full_history_in_fixture_form(invoke: Invoke, fixed_db: Path) -> None:
    import aion

    data = json.loads(invoke("inspect", "order-1", "--json").output)
    store = aion.DuckDBStore(fixed_db, read_only=True)
    try:
        events = store.history("order-1")
    finally:
        store.close()
    assert data["workflow_id"] == "order-1"
    assert data["events"] == [event_to_dict(e) for e in events]
    assert fixtures.from_dict(data).events == tuple(events)


def test_inspect_html_writes_a_self_contained_gantt_page(invoke: Invoke, tmp_path: Path) -> None:
    page = tmp_path / "t.html"
    result = invoke("inspect", "retry-1", "--html", str(page))
    assert result.exit_code == 0
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html and "#1 activity flaky" in html
    assert "attempt 1: RuntimeError: transient failure 1" in html  # the failed-attempt tick
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
