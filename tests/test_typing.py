"""The public API's types hold: `tests/typing/` passes ``mypy --strict`` (a real mypy run).

The files there state what is checked with ``assert_type`` and mark every error
mypy must still report with a ``# type: ignore[code]``. With
``--warn-unused-ignores`` an ignore that is no longer needed is itself an
error, so a typing regression (say ``call()`` no longer checking an activity's
arguments) fails this test as surely as a new error does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "tests" / "typing"


def test_typing_folder_passes_mypy_strict() -> None:
    sources = sorted(FOLDER.glob("*.py"))
    ignores = [m for p in sources for m in re.findall(r"# type: ignore\[[a-z-]+\]", p.read_text())]
    assert len(ignores) >= 5, "the folder must pin errors mypy still reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--warn-unused-ignores",
            "--no-error-summary",
            *(str(p.relative_to(ROOT)) for p in sources),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "", proc.stdout
