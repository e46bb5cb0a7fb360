"""The README's quick start, run for real in a fresh virtual environment."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick = text[text.index("## Quick start") :]
    quick = quick[: quick.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)\n```", quick, flags=re.S)


def test_the_quick_start_is_two_commands_and_ci_runs_the_second() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()


@pytest.mark.slow
def test_the_first_command_installs_and_runs_a_workflow_in_a_fresh_venv(tmp_path: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    clone = tmp_path / "clone"
    for name in listed:
        source = ROOT / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    command = readme_commands()[0].replace("python3 ", f"{sys.executable} ", 1)
    done = subprocess.run(
        ["bash", "-c", command], cwd=clone, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "order-1 completed: {'receipt': {'cents': 1299, 'receipt': 'r-order-1'}," in done.stdout
    for kind in (
        "WorkflowStarted",
        "ActivityFailed",
        "TimerFired",
        "SignalReceived",
        "WorkflowCompleted",
    ):
        assert kind in done.stdout
    assert (clone / "quickstart.duckdb").exists()
