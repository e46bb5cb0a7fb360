"""A bad start never bricks a store (issue 11, defect 10).

`Engine.start` checks the arguments against the workflow's signature before
anything is recorded; a recorded input that no longer fits the code (a file
written by older code, or a hand-made history) stalls that workflow alone,
and every later `Engine(path)`, `aion worker`, `aion run` and
`aion replay --all` still works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aion
from tests.helpers import record_bad_start


@aion.activity
def charge(order_id: str, cents: int) -> str:
    return f"{order_id}:{cents}"


@aion.workflow
def order(order_id: str, cents: int) -> Any:
    receipt = yield aion.call(charge, order_id, cents)
    return receipt


@pytest.mark.parametrize("args", [(), ("o-1",), ("o-1", 5, "extra")])
def test_start_with_arguments_the_signature_refuses_records_nothing(
    tmp_path: Path, args: tuple[Any, ...]
) -> None:
    path = tmp_path / "a.duckdb"
    with aion.Engine(str(path), workflows=[order], activities=[charge]) as engine:
        with pytest.raises(aion.WorkflowArgumentError) as caught:
            engine.start(order, *args, workflow_id="bad")
        assert isinstance(caught.value, TypeError)
        assert str(caught.value).startswith(
            "cannot start workflow 'order': order(order_id, cents) cannot take"
        )
        assert engine.list() == []
        good = engine.start(order, "o-1", 5, workflow_id="good")
        assert good.result(timeout=30) == "o-1:5"
    with aion.Engine(str(path), workflows=[order], activities=[charge]) as engine:
        assert [i.workflow_id for i in engine.list()] == ["good"]


def test_a_recorded_input_that_no_longer_fits_stalls_only_that_workflow(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    record_bad_start(path, "hand-made", [])
    with aion.Engine(str(path), workflows=[order], activities=[charge]) as engine:
        desc = engine.describe("hand-made")
        assert desc.status == "stalled"
        assert desc.stalled_reason is not None
        assert desc.stalled_reason.startswith(
            "the recorded input of workflow 'order' does not fit its code: order(order_id, cents)"
        )
        assert "missing a required argument: 'order_id'" in desc.stalled_reason
        h = engine.start(order, "o-2", 7, workflow_id="next")
        assert h.result(timeout=30) == "o-2:7"
    # Reopening keeps it stalled (no second stall event) and still runs the others.
    with aion.Engine(str(path), workflows=[order], activities=[charge]) as engine:
        stalls = [e for e in engine.history("hand-made") if type(e).__name__ == "WorkflowStalled"]
        assert len(stalls) == 1
        assert engine.describe("next").status == "completed"
    summary = aion.Replayer([order], [charge]).replay_store(
        aion.DuckDBStore(str(path), read_only=True)
    )
    assert summary.replayed == 2
    assert summary.ok == 1
    bad = next(r for r in summary.results if r.workflow_id == "hand-made")
    assert bad.status == "stalled"
