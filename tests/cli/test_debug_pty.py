"""The interactive debugger driven through a pseudo-terminal, as a person would use it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import ROOT, SAMPLE, aion_command, subprocess_env


def _read_until(fd: int, marker: str, seen: list[str], seconds: float = 20) -> str:
    """Read the terminal until ``marker`` appears in the new output; returns that output."""
    start = len("".join(seen))
    deadline = time.monotonic() + seconds
    while marker not in "".join(seen)[start:]:
        assert time.monotonic() < deadline, "".join(seen)[start:]
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen.append(os.read(fd, 4096).decode(errors="replace"))
            except OSError:
                break
    return "".join(seen)[start:]


def test_break_at_a_seq_show_locals_and_continue_to_the_end(fixed_db: Path) -> None:
    main, child = pty.openpty()
    proc = subprocess.Popen(
        aion_command("--db", str(fixed_db), "debug", "order-1", "-m", SAMPLE),
        cwd=ROOT,
        env=subprocess_env(TERM="dumb"),
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    seen: list[str] = []
    try:
        assert "debugging order-1: 6 recorded events." in _read_until(main, "(aion) ", seen)
        os.write(main, b"break 4\n")
        assert "breakpoint at seq 4" in _read_until(main, "(aion) ", seen)
        os.write(main, b"continue\n")
        stopped = _read_until(main, "(aion) ", seen)
        assert "seq 4 TimerStarted #2 30s" in stopped
        assert "tests/cli/sample_workflows.py:31" in stopped
        os.write(main, b"locals\n")
        shown = _read_until(main, "(aion) ", seen)
        assert "order_id" in shown and "'o-1'" in shown
        assert "receipt" in shown and "'rcpt-o-1-1299'" in shown
        os.write(main, b"where\n")
        assert "yield aion.sleep(timedelta(seconds=30))" in _read_until(main, "(aion) ", seen)
        os.write(main, b"continue\n")
        end = _read_until(main, "(aion) ", seen)
        assert "seq 6 WorkflowCompleted" in end and "workflow completed" in end
        os.write(main, b"quit\n")
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
