"""Every run's ``WorkflowStarted`` names its code: top-level starts, children and continued runs.

Tools (``aion replay ID``, ``debug``, offline ``query``) import a run's code
from the ``module:qualname`` its start recorded. A child or a continued run
used to record none, so the CLI had to guess from the parent; now the engine
records each run's own, and None only for a type it does not register.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aion
from aion._events import WorkflowStarted


@aion.workflow(name="code.leaf")
def leaf(n: int) -> Any:
    """A child that continues as new once, so both kinds of engine-made start occur."""
    if n > 0:
        yield aion.continue_as_new(n - 1)
    return "leaf done"


@aion.workflow(name="code.root")
def root() -> Any:
    """Starts a registered child and waits for it."""
    child = yield aion.start_child(leaf, 1, workflow_id="code-child")
    return (yield aion.await_child(child))


def _starts(engine: aion.Engine, workflow_id: str) -> list[WorkflowStarted]:
    return [e for e in engine.history(workflow_id) if isinstance(e, WorkflowStarted)]


def test_children_and_continued_runs_record_their_own_code(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "c.duckdb"), workflows=[root, leaf]) as engine:
        engine.start(root, workflow_id="code-root")
        assert engine.run_until_complete("code-root", timeout=30) == "leaf done"
        root_starts = _starts(engine, "code-root")
        child_starts = _starts(engine, "code-child")
    assert [s.code for s in root_starts] == ["tests.test_recorded_code:root"]
    assert len(child_starts) == 2  # the child's first run and the run it continued as
    assert [s.code for s in child_starts] == ["tests.test_recorded_code:leaf"] * 2
