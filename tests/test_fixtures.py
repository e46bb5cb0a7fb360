"""Every recorded fixture in replay_fixtures/ still replays as its ``expect`` says.

Good histories must replay against ``tests.fixture_workflows`` to their
recorded outcome; their bad twins must be reported against
``tests.fixture_workflows_v2`` at the recorded seq. Regenerate with
``python -m tests.fixture_gen`` after changing a sample workflow on purpose.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import aion
from aion import fixtures
from tests.fixture_gen import registry_of

ROOT = Path(__file__).resolve().parent.parent / "replay_fixtures"
FILES = sorted(ROOT.glob("**/*.json"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_fixture_replays_as_expected(path: Path) -> None:
    fixture = fixtures.load(path)
    assert fixture.module is not None
    registry = registry_of(importlib.import_module(fixture.module))
    result = aion.replay(
        fixture.workflow, fixture.events, registry=registry, workflow_id=fixture.workflow_id
    )
    problem = fixtures.check(fixture, result)
    assert problem is None, f"{path.relative_to(ROOT)}: {problem}"


def test_corpus_has_25_good_histories_each_with_a_bad_twin() -> None:
    cases = sorted(p.name for p in ROOT.iterdir() if p.is_dir())
    assert len(cases) >= 25
    for case in cases:
        good = fixtures.load(ROOT / case / "good.json")
        bad = fixtures.load(ROOT / case / "bad.json")
        assert good.expect["outcome"] != "nondeterminism"
        assert bad.expect["outcome"] == "nondeterminism"
        assert bad.events == good.events


def test_corpus_covers_every_recorded_command_kind() -> None:
    kinds = {type(e).__name__ for p in FILES for e in fixtures.load(p).events}
    needed = {
        "ActivityScheduled", "ActivityCompleted", "ActivityFailed", "TimerStarted", "TimerFired",
        "TimeoutStarted", "SignalAwaited", "SignalReceived", "SignalSent", "SignalDelivered",
        "SignalDeliveryFailed", "ChildStarted", "ChildAwaited", "ChildCompleted", "ChildFailed",
        "GroupStarted", "PatchRecorded", "CommandCancelled", "WorkflowCompleted",
        "WorkflowFailed", "WorkflowContinuedAsNew",
    }  # fmt: skip
    assert needed <= kinds, needed - kinds


def test_a_changed_expectation_is_caught(tmp_path: Path) -> None:
    data = fixtures.to_dict(
        "x", fixtures.load(ROOT / "call_one" / "good.json").events, module="tests.fixture_workflows"
    )
    data["expect"] = {"outcome": "completed", "result": 43}
    fixtures.write(tmp_path / "f.json", data)
    fixture = fixtures.load(tmp_path / "f.json")
    registry = registry_of(importlib.import_module("tests.fixture_workflows"))
    result = aion.replay(fixture.workflow, fixture.events, registry=registry, workflow_id="x")
    assert fixtures.check(fixture, result) is not None
