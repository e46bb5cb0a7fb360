# ruff: noqa: E501 - expected outputs are whole 100-column terminal lines
"""`aion replay`: deterministic histories exit 0; a code change exits 1 with a panel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aion import fixtures
from tests.cli.conftest import CHANGED, SAMPLE, Invoke, codeless_db
from tests.cli.test_read_cmds import lines

PANEL = (
    "╭─ divergence in 'order-1' at seq 2 ───────────────────────────────────────────────────────────────╮\n"
    "│           recorded (history)                          current (code)                             │\n"
    "│ ──────────────────────────────────────────────────────────────────────────────────────────────── │\n"
    "│ kind      ActivityScheduled                           ActivityScheduled                          │\n"
    "│ ordinal   1                                           1                                          │\n"
    "│ name      charge                                      charge                                     │\n"
    '│ args      ("o-1", 1299)                               ("o-1", 1300)                              │\n'
    "│ source    tests/cli/sample_workflows.py:30            tests/cli/changed_workflows.py:20          │\n"
    "│ line      receipt = yield aion.call(charge,           receipt = yield aion.call(charge,          │\n"
    "│           order_id, cents)                            order_id, cents + 1)                       │\n"
    "│ around it:                                                                                       │\n"
    '│   seq 1 WorkflowStarted order("o-1", 1299)                                                       │\n'
    '│ → seq 2 ActivityScheduled #1 charge("o-1", 1299)                                                 │\n'
    '│   seq 3 ActivityCompleted #1 result "rcpt-o-1-1299"                                              │\n'
    "│   seq 4 TimerStarted #2 30s until 2026-01-01T00:00:30+00:00                                      │\n"
    "│   seq 5 TimerFired #2 ordinal 2                                                                  │\n"
    "│ guard the change with aion.patched(), or revert it.                                              │\n"
    "╰──────────────────────────────────────────────────────────────────────────────────────────────────╯\n"
)


def test_replay_all_under_unchanged_code_is_clean(invoke: Invoke) -> None:
    result = invoke("replay", "--all", "-m", SAMPLE)
    assert result.exit_code == 0
    assert lines(result.output) == (
        "replayed   ok   diverged   error\n"
        "────────────────────────────────\n"
        "       3    3          0       0\n"
    )


def test_replay_all_under_changed_code_reports_the_divergence(invoke: Invoke) -> None:
    result = invoke("replay", "--all", "-m", CHANGED)
    assert result.exit_code == 1
    assert lines(result.output) == lines(
        "replayed   ok   diverged   error\n"
        "────────────────────────────────\n"
        "       3    2          1       0\n"
        "\n"
        "workflow   problem\n"
        "────────────────────────────\n"
        "order-1    diverged at seq 2\n" + PANEL
    )


def test_replay_one_id(invoke: Invoke) -> None:
    ok = invoke("replay", "order-1", "-m", SAMPLE)
    assert (ok.exit_code, ok.output) == (0, "ok order-1: completed after 6 events\n")
    bad = invoke("replay", "order-1", "-m", CHANGED)
    assert bad.exit_code == 1
    assert lines(bad.output) == lines("diverged order-1: at seq 2\n" + PANEL)


def test_replay_json_for_scripts(invoke: Invoke) -> None:
    data = json.loads(invoke("replay", "--all", "-m", CHANGED, "--json").output)
    assert (data["replayed"], data["ok"], data["diverged"], data["errors"]) == (3, 2, 1, 0)
    [bad] = [r for r in data["results"] if r["divergence"]]
    assert bad["divergence"]["seq"] == 2
    assert bad["divergence"]["recorded"]["args"] == '("o-1", 1299)'
    assert bad["divergence"]["current"]["args"] == '("o-1", 1300)'


def test_replay_fixture_files_checks_their_expectation(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # short relative names keep the lines unwrapped
    good = Path("order-1.json")
    assert invoke("export", "order-1", "-o", str(good), "-m", SAMPLE).exit_code == 0
    result = invoke("replay", str(good))
    assert (result.exit_code, result.stdout) == (
        0,
        f"ok order-1: completed after 6 events ({good}: as expected)\n",
    )
    assert result.stderr == (f"importing module {SAMPLE!r} (recorded in {good}; -m overrides)\n")
    # The same fixture pointed at the changed code: the expectation no longer holds.
    data = json.loads(good.read_text())
    data["module"] = CHANGED
    bad = Path("bad.json")
    fixtures.write(bad, data)
    result = invoke("replay", str(bad))
    assert result.exit_code == 1
    assert result.stdout.startswith(
        f"diverged order-1: at seq 2 ({bad}: expected outcome 'completed', replay gave 'nondeterminism')\n"
    )


def test_replay_without_code_or_target_is_a_usage_error(invoke: Invoke, tmp_path: Path) -> None:
    no_code = invoke("replay", "--all", db=codeless_db(invoke, tmp_path))
    assert no_code.exit_code == 2
    assert no_code.output == (
        "error: replay needs the workflow code, and none was found.\n"
        "hint: pass -m MODULE (the module that defines the workflows); histories recorded "
        "before aion recorded the code's name always need it.\n"
    )
    assert invoke("replay").exit_code == 2
