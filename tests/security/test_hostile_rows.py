"""Hostile history rows: each is a typed error naming workflow and seq, for that workflow only.

A file's rows may have been written by another program. A payload of the
wrong shape, nested too deep, holding NaN; an ``infinity`` timestamp; a timer
time that is not a time; an unknown kind: each makes *its* workflow
unreadable (listed as stalled with the reason, its history refused with a
`StoreCorruptedError` naming workflow and seq), while the engine opens, the
other workflows run, `aion list` works and `inspect --json` prints only JSON.
The fuzz test drives the row decoder itself with arbitrary rows.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aion_cli.main import cli
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import aion
from aion import _codec
from aion._errors import AionError
from aion._events import EVENT_TYPES, Event

ROOT = Path(__file__).resolve().parents[2]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@aion.activity
def fetch(key: str) -> str:
    return f"value-{key}"


@aion.workflow
def victim(key: str):  # type: ignore[no-untyped-def]
    value = yield aion.call(fetch, key)
    yield aion.sleep(timedelta(seconds=30))
    return value


@aion.workflow
def other(factor: int):  # type: ignore[no-untyped-def]
    got = yield aion.receive_signal("go")
    return got * factor


WORKFLOWS = [victim, other]


def _record(path: Path) -> None:
    """victim: 1 WorkflowStarted, 2 ActivityScheduled, 3 ActivityCompleted, 4 TimerStarted."""
    engine = aion.Engine(
        str(path), workflows=WORKFLOWS, activities=[fetch], clock=aion.ManualClock(EPOCH)
    )
    try:
        engine.start(victim, "k", workflow_id="victim")
        engine.start(other, 3, workflow_id="other")
        engine.run_until_idle()
    finally:
        engine.close()


def _sql(path: Path, statement: str) -> None:
    con = duckdb.connect(str(path))
    con.execute(statement)
    con.close()


def _where(kind: str) -> str:
    return f"WHERE workflow_id = 'victim' AND kind = '{kind}'"


DEEP = "[" * 20000 + "]" * 20000
DEEPISH = "[" * 600 + "]" * 600  # orjson decodes it; Python code walking it would not

#: (case, statement, the seq it damages)
HOSTILE = [
    (
        "payload-not-an-object",
        f"UPDATE events SET payload = '[1, 2]' {_where('WorkflowStarted')}",
        1,
    ),
    (
        "payload-wrong-type",
        'UPDATE events SET payload = \'{"args": ["k"], "format_version": "x"}\' '
        + _where("WorkflowStarted"),
        1,
    ),
    (
        "infinity-start",
        f"UPDATE events SET recorded_at = 'infinity' {_where('WorkflowStarted')}",
        1,
    ),
    (
        "infinity-time",
        f"UPDATE events SET recorded_at = 'infinity' {_where('ActivityScheduled')}",
        2,
    ),
    (
        "far-future",
        f"UPDATE events SET recorded_at = '290000-01-01' {_where('ActivityScheduled')}",
        2,
    ),
    (
        "nested-deep",
        f'UPDATE events SET payload = \'{{"attempt": 1, "result": {DEEP}}}\' '
        + _where("ActivityCompleted"),
        3,
    ),
    (
        "nested-600",
        f'UPDATE events SET payload = \'{{"attempt": 1, "result": {DEEPISH}}}\' '
        + _where("ActivityCompleted"),
        3,
    ),
    (
        "nan",
        'UPDATE events SET payload = \'{"attempt": 1, "result": NaN}\' '
        + _where("ActivityCompleted"),
        3,
    ),
    (
        "huge-number",
        'UPDATE events SET payload = \'{"attempt": 1, "result": -1e999}\' '
        + _where("ActivityCompleted"),
        3,
    ),
    ("unknown-kind", f"UPDATE events SET kind = 'Bogus' {_where('ActivityCompleted')}", 3),
    (
        "garbage-timer-time",
        'UPDATE events SET payload = \'{"fire_at": "garbage", "seconds": 30}\' '
        + _where("TimerStarted"),
        4,
    ),
    (
        "timer-time-not-a-string",
        'UPDATE events SET payload = \'{"fire_at": [1], "seconds": 30}\' ' + _where("TimerStarted"),
        4,
    ),
]


def _cli(db: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "AION_DB": None})
    result = runner.invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, int]:
    statement, seq = request.param
    path = tmp_path / "rows.duckdb"
    _record(path)
    _sql(path, statement)
    return path, seq


@pytest.mark.parametrize(
    "damaged", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE], indirect=True
)
def test_a_hostile_row_damages_only_its_workflow(damaged: tuple[Path, int]) -> None:
    path, seq = damaged
    engine = aion.Engine(
        str(path), workflows=WORKFLOWS, activities=[fetch], clock=aion.ManualClock(EPOCH)
    )
    try:
        info = engine.store.info("victim")
        assert info is not None and info.status == "stalled"
        assert info.stalled_reason is not None and f"seq {seq}" in info.stalled_reason
        with pytest.raises(aion.StoreCorruptedError) as err:
            engine.history("victim")
        assert "'victim'" in str(err.value) and f"seq {seq}" in str(err.value)
        assert engine.store.due_timers() == []  # its timer never fires
        engine.signal("other", "go", 14)
        assert engine.run_until_complete("other", timeout=30) == 42
    finally:
        engine.close()

    code, out, err_text = _cli(path, "list", "--json")
    assert code == 0, err_text
    listed = {w["workflow_id"]: w for w in json.loads(out)}
    assert listed["other"]["status"] == "completed"
    assert listed["victim"]["status"] == "stalled"
    assert f"seq {seq}" in listed["victim"]["stalled_reason"]

    code, out, err_text = _cli(path, "inspect", "victim", "--json")
    assert code == 3
    assert out == ""  # never half a document, never NaN
    errors = [line for line in err_text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "'victim'" in errors[0] and f"seq {seq}" in errors[0], err_text
    assert "Traceback" not in err_text

    code, out, err_text = _cli(path, "inspect", "other", "--json")
    assert code == 0, err_text
    assert json.loads(out)["events"]


def test_a_real_subprocess_shows_one_line_for_a_nan_payload(tmp_path: Path) -> None:
    path = tmp_path / "rows.duckdb"
    _record(path)
    _sql(
        path,
        'UPDATE events SET payload = \'{"attempt": 1, "result": NaN}\' '
        + _where("ActivityCompleted"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "aion_cli", "--db", str(path), "inspect", "victim", "--json"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert "NaN" not in proc.stdout and "Traceback" not in proc.stderr
    assert "seq 3" in proc.stderr and "'victim'" in proc.stderr


def test_a_garbage_schema_version_is_one_typed_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.duckdb"
    _record(path)
    _sql(path, "UPDATE aion_meta SET value = 'two' WHERE key = 'schema_version'")
    with pytest.raises(aion.StoreCorruptedError, match="garbage schema version 'two'"):
        aion.Engine(str(path), workflows=WORKFLOWS, activities=[fetch])
    code, _, err_text = _cli(path, "list")
    assert code == 3
    assert [line for line in err_text.splitlines() if line.startswith("error:")] == [
        next(line for line in err_text.splitlines() if "garbage schema version" in line)
    ]


# --- the row decoder under arbitrary input -------------------------------------------

KINDS = [cls.__name__ for cls in EVENT_TYPES]
JSON_TEXT = st.one_of(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    ).map(lambda v: json.dumps(v, allow_nan=True)),
    st.builds(
        lambda fields: json.dumps(fields, allow_nan=True),
        st.dictionaries(
            st.sampled_from(
                ["args", "result", "fire_at", "retry_at", "attempt", "error", "payload", "seconds"]
            ),
            st.one_of(
                st.none(),
                st.integers(),
                st.floats(),
                st.text(max_size=30),
                st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
                st.lists(st.integers(), max_size=3),
                st.dictionaries(st.sampled_from(["type", "message", "traceback"]), st.text()),
            ),
        ),
    ),
    st.text(max_size=40),
    st.integers(1, 4000).map(lambda n: "[" * n + "]" * n),
)
MICROS = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**53))
ROW = st.tuples(
    st.sampled_from(["w1", "w2"]),
    st.one_of(st.sampled_from(KINDS), st.text(max_size=12)),
    st.integers(-5, 2**40),
    st.text(max_size=10),
    MICROS,
    st.one_of(st.none(), st.integers(-5, 10)),
    st.one_of(st.none(), st.text(max_size=10)),
    st.one_of(st.none(), JSON_TEXT),
    st.one_of(st.none(), st.text(max_size=10)),
    st.one_of(st.none(), st.text(max_size=10)),
)


def _finite_json(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite_json(v) for v in value)
    if isinstance(value, dict):
        return all(_finite_json(v) for v in value.values())
    return True


@given(st.lists(ROW, max_size=6))
def test_the_row_decoder_gives_a_typed_error_or_valid_events(rows: list[Any]) -> None:
    from aion.store._rows import DamagedHistoryError, decode_rows

    rows.sort(key=lambda r: r[0])
    damaged: dict[str, DamagedHistoryError] = {}
    for workflow_id, event in decode_rows(rows, "fuzz.duckdb", damaged):
        assert isinstance(event, Event)
        assert event.recorded_at.tzinfo is UTC
        data = _codec.event_to_dict(event)
        assert _finite_json(data)
        json.dumps(data, allow_nan=False, default=str)  # printable as JSON
        assert workflow_id in ("w1", "w2")
    for error in damaged.values():
        assert isinstance(error, aion.StoreCorruptedError)
        assert repr(error.workflow_id) in str(error) and f"seq {error.seq}" in str(error)
    for row in rows:
        try:
            event = _codec.event_from_row(row[1], row[2], row[3], EPOCH, *row[5:])
        except AionError:
            continue
        assert isinstance(event, Event)


#: Two damaged rows: the history decode meets seq 2 first, the index load seq 4.
BOTH = (
    "UPDATE events SET payload = '[1]' " + _where("ActivityScheduled"),
    'UPDATE events SET payload = \'{"fire_at": "garbage", "seconds": 30}\' '
    + _where("TimerStarted"),
)


def _history_error(store: aion.DuckDBStore) -> str:
    with pytest.raises(aion.StoreCorruptedError) as err:
        store.history("victim")
    return str(err.value)


@pytest.mark.parametrize(
    "statements",
    [(h[1],) for h in HOSTILE] + [BOTH],
    ids=[h[0] for h in HOSTILE] + ["two-damaged-rows"],
)
def test_a_read_only_store_refuses_a_history_as_if_its_index_were_loaded(
    tmp_path: Path, statements: tuple[str, ...]
) -> None:
    # A read-only store loads its index only when asked for more than a history;
    # history() must still raise what the index load would have found, first.
    path = tmp_path / "rows.duckdb"
    _record(path)
    for statement in statements:
        _sql(path, statement)
    eager = aion.DuckDBStore(path, read_only=True)
    try:
        assert eager.info("other") is not None  # loads the index
        expected = _history_error(eager)
        listed = eager.workflows()
    finally:
        eager.close()
    lazy = aion.DuckDBStore(path, read_only=True)
    try:
        assert _history_error(lazy) == expected
        assert _history_error(lazy) == expected  # and again, now from what it recorded
        assert lazy.workflows() == listed
        assert lazy.history("other")
    finally:
        lazy.close()
