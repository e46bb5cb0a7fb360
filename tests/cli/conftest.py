"""Fixtures for the CLI tests: a database of fixed histories and a CliRunner helper.

Histories are recorded under a `ManualClock` started at a fixed instant with
fixed workflow ids, so every timestamp and seq in the CLI's output is the
same on every run; only run ids (UUIDs) vary, and tests read them back from
the database when they appear in output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aion_cli.main import cli
from click.testing import CliRunner, Result

import aion
from tests.cli import sample_workflows as s

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "tests.cli.sample_workflows"
CHANGED = "tests.cli.changed_workflows"
WIDTH = 100

Invoke = Callable[..., Result]


def record_fixed_histories(path: Path) -> None:
    """order-1 and retry-1 completed, appr-1 waiting for its 'approve' signal."""
    clock = aion.ManualClock(EPOCH)
    engine = aion.Engine(
        str(path),
        workflows=[s.order, s.approval, s.retrying],
        activities=[s.charge, s.flaky],
        clock=clock,
    )
    try:
        engine.start(s.order, "o-1", 1299, workflow_id="order-1")
        engine.run_until_complete("order-1")
        engine.start(s.retrying, "k", workflow_id="retry-1")
        engine.run_until_complete("retry-1")
        engine.start(s.approval, "o-2", workflow_id="appr-1")
        engine.run_until_idle()
    finally:
        engine.close()


@pytest.fixture(scope="session")
def fixed_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixed database, recorded once per session."""
    path = tmp_path_factory.mktemp("fixed") / "fixed.duckdb"
    record_fixed_histories(path)
    return path


@pytest.fixture
def fixed_db(fixed_db_template: Path, tmp_path: Path) -> Path:
    """A private copy of the fixed database (tests may write to it)."""
    path = tmp_path / "aion.duckdb"
    shutil.copy(fixed_db_template, path)
    return path


def run_id(db: Path, workflow_id: str) -> str:
    """The current run id of a workflow (the one varying part of some outputs)."""
    store = aion.DuckDBStore(db, read_only=True)
    try:
        info = store.info(workflow_id)
        assert info is not None
        return info.run_id
    finally:
        store.close()


@pytest.fixture
def invoke(fixed_db: Path) -> Invoke:
    """Run the CLI in-process on the fixed database: plain text, 100 columns."""

    def call(*args: str, db: Path | None = None) -> Result:
        runner = CliRunner(
            env={
                "AION_DB": str(db or fixed_db),
                "COLUMNS": str(WIDTH),
                "NO_COLOR": "1",
                "FORCE_COLOR": None,
                "TTY_COMPATIBLE": None,
            }
        )
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return call


def aion_command(*args: str) -> list[str]:
    """The ``aion`` program as a subprocess command line."""
    return [sys.executable, "-m", "aion_cli", *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for CLI subprocesses: plain output, repo root importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "AION_DB")}
    env.update({"COLUMNS": str(WIDTH), "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **extra})
    return env


def run_aion(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``aion`` as a real subprocess from the repository root."""
    return subprocess.run(
        aion_command(*args),
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def codeless_db(invoke: Invoke, folder: Path) -> Path:
    """A database holding order-1 and appr-1 as recorded before `WorkflowStarted.code` existed."""
    db = folder / "old.duckdb"
    for workflow_id in ("order-1", "appr-1"):
        data = json.loads(invoke("inspect", workflow_id, "--json").stdout)
        data["events"][0]["code"] = None
        data.pop("module", None)
        path = folder / f"{workflow_id}.json"
        path.write_text(json.dumps(data))
        assert invoke("import", str(path), db=db).exit_code == 0
    return db
