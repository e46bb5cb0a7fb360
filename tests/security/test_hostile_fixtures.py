"""The fixture loader takes files from anywhere (issue 12, defect 9, and the fuzz test).

Before this fix a symlink to ``/dev/zero`` was read without limit, non-UTF-8
and deeply nested files gave untyped errors, wrong types were converted
silently (a null id imported as ``"None"``, ``"carried": "no"`` as true,
``args: {"a": 1}`` as ``["a"]``) and events after the end of a run were
imported. Now every such file is a one-line `aion.HistoryError` and nothing
is written; hypothesis checks that no input gives anything else.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from aion_cli.main import cli
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aion
from aion import fixtures
from aion._events import WorkflowStarted

ROOT = Path(__file__).resolve().parents[2]
KITCHEN = ROOT / "replay_fixtures" / "kitchen_sink" / "good.json"
SIGNALS = ROOT / "replay_fixtures" / "early_signal_buffered" / "good.json"


def _data(path: Path = KITCHEN) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def _signal_index(data: dict[str, Any]) -> int:
    return next(i for i, e in enumerate(data["events"]) if e["kind"] == "SignalReceived")


def _cases() -> dict[str, dict[str, Any]]:
    """Hostile edits of real fixtures that the old loader accepted or crashed on."""
    null_id = _data()
    null_id["workflow_id"] = None
    carried = _data(SIGNALS)
    carried["events"][_signal_index(carried)]["carried"] = "no"
    args_dict = _data()
    args_dict["events"][0]["args"] = {"a": 1}
    seq_text = _data()
    seq_text["events"][1]["seq"] = "2"
    bool_seq = _data()
    bool_seq["events"][0]["seq"] = True
    after_end = _data()
    extra = copy.deepcopy(after_end["events"][-2])
    extra["seq"] = len(after_end["events"]) + 1
    after_end["events"].append(extra)
    path_module = _data()
    path_module["module"] = "/tmp/evil.py"
    unknown = _data()
    unknown["events"][1]["sneaky"] = 1
    return {
        "null workflow_id": null_id,
        "carried 'no'": carried,
        "args as an object": args_dict,
        "seq as text": seq_text,
        "seq as a boolean": bool_seq,
        "an event after the end": after_end,
        "a module path": path_module,
        "an unknown event field": unknown,
    }


CASES = _cases()
MESSAGES = {
    "null workflow_id": "'workflow_id' must be a non-empty string",
    "carried 'no'": "has a wrong 'carried'",
    "args as an object": "has a wrong 'args'",
    "seq as text": "has a wrong 'seq'",
    "seq as a boolean": "has a wrong 'seq'",
    "an event after the end": "follows WorkflowCompleted",
    "a module path": "'module' must be a dotted module name",
    "an unknown event field": "unknown field 'sneaky'",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_wrong_types_and_shapes_are_refused_not_converted(tmp_path: Path, case: str) -> None:
    path = _write(tmp_path / "f.json", CASES[case])
    with pytest.raises(aion.HistoryError) as caught:
        fixtures.load(path)
    assert MESSAGES[case] in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_symlink_to_a_device_or_a_fifo_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    with pytest.raises(aion.HistoryError, match="is not a regular file"):
        fixtures.load(tmp_path / "zero.json")
    os.mkfifo(tmp_path / "fifo.json")  # opening it for reading would block without O_NONBLOCK
    with pytest.raises(aion.HistoryError, match="is not a regular file"):
        fixtures.load(tmp_path / "fifo.json")


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.truncate(fixtures.MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(aion.HistoryError, match="a fixture may be at most"):
        fixtures.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": 1, "workflow": "\xff"}', "is not UTF-8 text (byte 27)"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"format": NaN}', "is not valid JSON (NaN is not JSON"),
        (b'{"format": 1, "format": 1}', "duplicate key 'format'"),
    ],
)
def test_undecodable_files_are_history_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(content)
    with pytest.raises(aion.HistoryError, match=re.escape(message)):
        fixtures.load(path)


def test_a_deep_payload_inside_an_event_is_a_history_error(tmp_path: Path) -> None:
    data = _data()
    text = json.dumps(data).replace('"args": [6]', '"args": [' + "[" * 5000 + "]" * 5000 + "]")
    assert "[[[[" in text
    with pytest.raises(aion.HistoryError):
        fixtures.loads(text.encode(), "deep.json")


@pytest.fixture(scope="module")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "aion.duckdb"
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(path), "import", str(KITCHEN), "--id", "seed"])
    assert result.exit_code == 0, result.output
    return path


def _import(db: Path, fixture: Path) -> Any:
    return CliRunner(env={"NO_COLOR": "1"}).invoke(cli, ["--db", str(db), "import", str(fixture)])


@pytest.mark.parametrize("case", sorted(CASES))
def test_aion_import_refuses_them_and_leaves_the_database_bytes_alone(
    tmp_path: Path, db_template: Path, case: str
) -> None:
    db = tmp_path / "aion.duckdb"
    shutil.copy(db_template, db)
    before = db.read_bytes()
    result = _import(db, _write(tmp_path / "f.json", CASES[case]))
    assert result.exit_code == 3, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert MESSAGES[case] in lines[0]
    assert db.read_bytes() == before


# --- fuzz -----------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
BASE = _data()
KEYS = sorted({k for e in BASE["events"] for k in e} | {"kind", "seq", "nonsense"})


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A real fixture with one to three fields replaced, removed or added."""
    data = copy.deepcopy(BASE)
    events = data["events"]  # kept even if "events" itself is replaced
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "event", "event", "event"]))
        target = data if where == "top" else events[draw(st.integers(0, len(events) - 1))]
        keys = sorted(target) + (["nonsense"] if where == "top" else KEYS)
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(JSON)
    return data


def _valid(fixture: fixtures.Fixture) -> None:
    """What a loaded fixture promises: a history aion could have written."""
    assert fixture.events and isinstance(fixture.events[0], WorkflowStarted)
    assert [e.seq for e in fixture.events] == list(range(1, len(fixture.events) + 1))
    again = fixtures.from_dict(
        json.loads(
            fixtures.dumps(fixtures.to_dict(fixture.workflow_id, fixture.events, module=None))
        )
    )
    assert again.events == fixture.events


@given(st.binary(max_size=300))
def test_fuzz_any_bytes_give_a_history_error_or_a_fixture(content: bytes) -> None:
    with contextlib.suppress(aion.HistoryError):
        _valid(fixtures.loads(content, "fuzz.json"))


@given(JSON)
def test_fuzz_any_json_gives_a_history_error_or_a_fixture(data: Any) -> None:
    with contextlib.suppress(aion.HistoryError):
        _valid(fixtures.from_dict(data, "fuzz.json"))


@given(mutated())
def test_fuzz_mutated_fixtures_give_a_history_error_or_a_valid_history(data: Any) -> None:
    try:
        _valid(fixtures.loads(json.dumps(data).encode(), "fuzz.json"))
    except aion.HistoryError as exc:
        assert str(exc).startswith("fuzz.json")


@settings(
    max_examples=12,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutated())
def test_fuzz_a_refused_import_leaves_the_database_bytes_unchanged(
    tmp_path: Path, db_template: Path, data: Any
) -> None:
    db = tmp_path / "fuzz.duckdb"
    shutil.copy(db_template, db)
    before = db.read_bytes()
    result = _import(db, _write(tmp_path / "fuzz.json", data))
    assert result.exit_code in (0, 3), result.output
    assert "Traceback" not in result.output and "looks like a bug" not in result.output
    if result.exit_code != 0:
        assert db.read_bytes() == before
