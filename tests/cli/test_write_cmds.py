# ruff: noqa: E501 - expected outputs are whole 100-column terminal lines
"""Export/import round trips, and start/signal/cancel/query with no worker running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aion
from aion._events import CancelRequested, SignalReceived, WorkflowStarted
from tests.cli import sample_workflows as s
from tests.cli.conftest import SAMPLE, Invoke, codeless_db


def test_export_then_import_round_trips_exactly(invoke: Invoke, tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    again = tmp_path / "again.json"
    other_db = tmp_path / "other.duckdb"
    assert invoke("export", "retry-1", "-o", str(first), "-m", SAMPLE).exit_code == 0
    imported = invoke("import", str(first), db=other_db)
    assert imported.exit_code == 0
    assert imported.output == f"imported retry-1 (5 events) from {first}\n"
    assert invoke("export", "retry-1", "-o", str(again), "-m", SAMPLE, db=other_db).exit_code == 0
    assert first.read_bytes() == again.read_bytes()
    data = json.loads(first.read_text())
    assert data["format"] == 1
    assert data["module"] == SAMPLE
    assert data["expect"] == {"outcome": "completed", "result": "ok-k"}


def test_export_to_stdout_and_import_under_a_new_id(invoke: Invoke, tmp_path: Path) -> None:
    text = invoke("export", "order-1", "-o", "-").output
    path = tmp_path / "o.json"
    path.write_text(text)
    assert invoke("import", str(path), "--id", "order-copy").exit_code == 0
    assert (
        invoke("replay", "order-copy", "-m", SAMPLE).output
        == "ok order-copy: completed after 6 events\n"
    )
    again = invoke("import", str(path), "--id", "order-copy")
    assert again.exit_code == 2
    assert again.output.startswith("error: workflow 'order-copy' already exists (completed).\n")


def test_import_rejects_a_malformed_fixture(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": 1, "events": []}')
    result = invoke("import", str(path))
    assert result.exit_code == 3
    assert result.output.startswith(f"error: {path} has no events.\n")


def _history(db: Path, workflow_id: str) -> list[aion._events.Event]:
    store = aion.DuckDBStore(db, read_only=True)
    try:
        return store.history(workflow_id)
    finally:
        store.close()


def test_signal_without_a_worker_is_recorded_and_delivered_on_recovery(
    invoke: Invoke, fixed_db: Path
) -> None:
    result = invoke("signal", "appr-1", "approve", "true")
    assert (result.exit_code, result.stdout) == (0, "signal 'approve' recorded for appr-1\n")
    assert "the workflow sees it when `aion worker` runs" in result.stderr
    last = _history(fixed_db, "appr-1")[-1]
    assert isinstance(last, SignalReceived) and last.payload is True
    with aion.Engine(str(fixed_db), workflows=[s.approval], activities=[s.charge]) as engine:
        assert engine.run_until_complete("appr-1") == {"receipt": "rcpt-o-2-100", "approved": True}


def test_query_without_a_worker_replays_under_the_given_code(
    invoke: Invoke, tmp_path: Path
) -> None:
    result = invoke("query", "appr-1", "stage", "-m", SAMPLE)
    assert (result.exit_code, result.output) == (0, '"awaiting approval"\n')
    old = codeless_db(invoke, tmp_path)
    no_code = invoke("query", "appr-1", "stage", db=old)
    assert no_code.exit_code == 2
    assert "answering a query offline needs the workflow code" in no_code.output
    assert (
        invoke("query", "appr-1", "stage", "-m", SAMPLE, db=old).stdout == '"awaiting approval"\n'
    )


def test_cancel_and_start_without_a_worker(invoke: Invoke, fixed_db: Path) -> None:
    assert invoke("cancel", "appr-1", "--reason", "no longer needed").exit_code == 0
    last = _history(fixed_db, "appr-1")[-1]
    assert isinstance(last, CancelRequested) and last.reason == "no longer needed"
    closed = invoke("cancel", "order-1")
    assert closed.exit_code == 2
    assert closed.output == (
        "error: workflow 'order-1' is completed and cannot take a cancel request.\n"
        "hint: only running workflows take signals and cancel requests.\n"
    )
    started = invoke("start", f"{SAMPLE}:quick", "4", "--id", "q-1")
    assert started.stdout == "started q-1 (quick)\n"
    first = _history(fixed_db, "q-1")[0]
    assert isinstance(first, WorkflowStarted) and first.args == [4]
    with aion.Engine(str(fixed_db), workflows=[s.quick], activities=[s.double]) as engine:
        assert engine.run_until_complete("q-1") == 9


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nomodule", "error: 'nomodule' does not name a workflow as MODULE:WORKFLOW.\n"),
        (
            f"{SAMPLE}:missing",
            f"error: no workflow named 'missing' in {SAMPLE} (found: approval, broken, order, quick, retrying).\n",
        ),
        (
            "no.such.module:wf",
            "error: cannot import module 'no.such.module': No module named 'no'.\n",
        ),
    ],
)
def test_bad_workflow_targets_are_usage_errors(invoke: Invoke, target: str, message: str) -> None:
    result = invoke("start", target)
    assert result.exit_code == 2
    assert result.output.startswith(message)
