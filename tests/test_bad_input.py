"""Bad input, each with the exact message a user sees: damaged files, drifted code, bad values.

Every case also checks what must *not* happen: a damaged file is never
modified by the attempt to open it, nothing is recorded for a rejected
request, and the engine keeps serving the other workflows.
"""

from __future__ import annotations

import _thread
import inspect
import os
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

import aion
from aion._interpreter import Interpreter


@aion.activity(name="bad.echo")
def echo(x: Any) -> Any:
    return x


@aion.workflow(name="bad.simple")
def simple(x: int) -> Any:
    value = yield aion.call(echo, x)
    return value


# --- damaged database files ---------------------------------------------------------------


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a checkpointed aion store holding 50 finished workflows."""
    path = tmp_path_factory.mktemp("good") / "good.duckdb"
    with aion.Engine(str(path), workflows=[simple], activities=[echo]) as engine:
        for i in range(50):
            engine.start(simple, i, workflow_id=f"w{i}")
        engine.run_until_idle()
    return path.read_bytes()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


NUM = r"\d+"
DAMAGE = [
    # An empty file is what a kill during creation leaves: it is taken as new
    # (tests/test_store_create.py), so it is not damage.
    ("random", lambda d: os.urandom(20_000), "cannot open {p}: it is not a DuckDB database file."),
    (
        "python source",
        lambda d: b"import os\nos.system('touch pwned')\n",
        "cannot open {p}: it is not a DuckDB database file.",
    ),
    (
        "truncated to half",
        lambda d: d[: len(d) // 2],
        "cannot read {p}: the database file is damaged (IO Error: Could not read enough bytes "
        'from file "{f}": attempted to read {n} bytes from location {n}).',
    ),
    (
        "header byte flipped",
        lambda d: _flip(d, 20),
        "cannot open {p}: the database file is damaged (Corrupt database file: computed "
        "checksum {n} does not match stored checksum {n} in block at location 0).",
    ),
    (
        "second header byte flipped",
        lambda d: _flip(d, 5000),
        "cannot open {p}: the database file is damaged (Corrupt database file: computed "
        "checksum {n} does not match stored checksum {n} in block at location 4096).",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "message"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damaged_file_is_reported_and_left_untouched(
    tmp_path: Path, good_db: bytes, case: str, mutate: Any, message: str
) -> None:
    path = tmp_path / "damaged.duckdb"
    content = mutate(good_db)
    path.write_bytes(content)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    with pytest.raises(aion.StoreCorruptedError) as info:
        aion.Engine(str(path), workflows=[simple], activities=[echo])
    pattern = re.escape(message.format(p=repr(str(path)), f=str(path), n="NUM"))
    assert re.fullmatch(pattern.replace("NUM", NUM), str(info.value)), str(info.value)
    assert path.read_bytes() == content
    assert path.stat().st_mtime == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.duckdb"]  # no .wal made


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    before = path.read_bytes()
    with pytest.raises(aion.ForeignStoreError) as info:
        aion.Engine(str(path))
    assert str(info.value) == (
        f"{str(path)!r} is a DuckDB database but not an aion store (it holds tables: invoices)."
    )
    assert path.read_bytes() == before


# --- a history recorded by other code -----------------------------------------------------


@aion.activity(name="bad.charge")
def charge(cents: int) -> int:
    return cents


@aion.activity(name="bad.refund")
def refund(cents: int) -> int:
    return -cents


@aion.workflow(name="bad.order")
def order_v1(cents: int) -> Any:
    paid = yield aion.call(charge, cents)
    ok = yield aion.receive_signal("approve")
    return [paid, ok]


@aion.workflow(name="bad.order")
def order_v2(cents: int) -> Any:
    back = yield aion.call(refund, cents)  # the first command changed
    ok = yield aion.receive_signal("approve")
    return [back, ok]


def test_history_from_other_code_stalls_with_a_divergence(tmp_path: Path) -> None:
    path = str(tmp_path / "db.duckdb")
    with aion.Engine(path, workflows=[order_v1], activities=[charge, refund]) as engine:
        engine.start(order_v1, 500, workflow_id="o")
        engine.run_until_idle()
        recorded = engine.history("o")
    with aion.Engine(path, workflows=[order_v2], activities=[charge, refund]) as engine:
        description = engine.describe("o")
        assert description.status == "stalled"
        was = _line_of(order_v1, "yield aion.call(charge")
        now = _line_of(order_v2, "yield aion.call(refund")
        assert description.stalled_reason == (
            "workflow 'o' diverged from its history at seq 2: history recorded ActivityScheduled "
            f"#1 'bad.charge' (500) at tests/test_bad_input.py:{was}, but the code now does "
            f"ActivityScheduled #1 'bad.refund' (500) at tests/test_bad_input.py:{now}. The "
            "workflow code changed under a recorded history (guard the change with "
            "aion.patched()) or it reads something nondeterministic (time, randomness, set or "
            "dict order, shared state)."
        )
        assert engine.history("o")[: len(recorded)] == recorded  # nothing rewritten
        with pytest.raises(aion.WorkflowStalledError):
            engine.run_until_complete("o")
    with aion.Engine(path, workflows=[order_v1], activities=[charge, refund]) as engine:
        engine.signal("o", "approve", True)  # the old code is back: it resumes
        assert engine.run_until_complete("o") == [500, True]


# --- a payload that no longer decodes into the annotated type -----------------------------


@attrs.frozen
class Quote:
    amount: int
    currency: str


@aion.activity(name="bad.quote")
def quote_v1() -> dict[str, int]:
    return {"amount": 5}


@aion.activity(name="bad.quote")
def quote_v2() -> Quote:  # now requires a currency the recorded result lacks
    return Quote(5, "EUR")


@aion.workflow(name="bad.pricing")
def pricing() -> Any:
    quote = yield aion.call(quote_v1)
    yield aion.receive_signal("go")
    return quote


@aion.workflow(name="bad.pricing")
def pricing_v2() -> Any:
    quote = yield aion.call(quote_v2)
    yield aion.receive_signal("go")
    return attrs.asdict(quote)


def test_payload_that_no_longer_decodes_stalls_and_loses_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "db.duckdb")
    with aion.Engine(path, workflows=[pricing], activities=[quote_v1]) as engine:
        engine.start(pricing, workflow_id="p")
        engine.run_until_idle()
        recorded = engine.history("p")
    with aion.Engine(path, workflows=[pricing_v2], activities=[quote_v2]) as engine:
        description = engine.describe("p")
        assert description.status == "stalled"
        assert description.stalled_reason == (
            "the recorded result of activity 'bad.quote' (seq 3) does not decode into Quote: "
            "required field missing @ $.currency."
        )
        assert engine.history("p")[: len(recorded)] == recorded
    with aion.Engine(path, workflows=[pricing], activities=[quote_v1]) as engine:
        engine.signal("p", "go")
        assert engine.run_until_complete("p") == {"amount": 5}


# --- signals to workflows that cannot take them --------------------------------------------


def test_signal_to_unknown_or_finished_workflow(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "db.duckdb"), workflows=[simple], activities=[echo]) as engine:
        with pytest.raises(aion.WorkflowNotFound) as unknown:
            engine.signal("ghost", "go", 1)
        assert str(unknown.value) == "no workflow with id 'ghost' in this store."
        assert engine.store.info("ghost") is None  # nothing was created
        engine.start(simple, 1, workflow_id="done")
        engine.run_until_complete("done")
        before = engine.history("done")
        with pytest.raises(aion.WorkflowClosed) as closed:
            engine.signal("done", "go", 1)
        assert str(closed.value) == "workflow 'done' is completed and cannot take a signal."
        assert engine.history("done") == before


# --- values that are not JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [object(), b"raw", float("nan"), float("inf")],
    ids=["object", "bytes", "nan", "inf"],
)
def test_non_json_argument_is_rejected_before_anything_is_recorded(
    tmp_path: Path, value: Any
) -> None:
    # The detail in brackets is the json module's own text, which changes between
    # Python versions (3.12 appends the value to the NaN message): assert ours.
    with aion.Engine(str(tmp_path / "db.duckdb"), workflows=[simple], activities=[echo]) as engine:
        with pytest.raises(aion.CodecError) as info:
            engine.start(simple, value, workflow_id="bad")
        assert re.fullmatch(
            r"the input of workflow 'bad\.simple' cannot be encoded as JSON: list \(.+\)\.",
            str(info.value),
        ), str(info.value)
        assert engine.store.info("bad") is None
        engine.start(simple, 7, workflow_id="fine")  # the engine is not wedged
        assert engine.run_until_complete("fine") == 7


def test_non_json_signal_payload_and_activity_argument(tmp_path: Path) -> None:
    @aion.workflow(name="bad.sends_nan")
    def sends_nan() -> Any:
        try:
            yield aion.call(echo, float("nan"))
        except aion.CodecError as exc:
            return str(exc)
        return "recorded"

    with aion.Engine(
        str(tmp_path / "db.duckdb"), workflows=[sends_nan], activities=[echo]
    ) as engine:
        engine.start(sends_nan, workflow_id="n")
        message = engine.run_until_complete("n")
        assert re.fullmatch(
            r"the arguments of activity 'bad\.echo' cannot be encoded as JSON: list \(.+\)\.",
            message,
        ), message
        assert "ActivityScheduled" not in [type(e).__name__ for e in engine.history("n")]
        with pytest.raises(aion.CodecError) as info:
            engine.signal("n", "x", {"when": object()})
        assert str(info.value).startswith(
            "the payload of signal 'x' cannot be encoded as JSON: dict"
        )


# --- workflow code that misbehaves ----------------------------------------------------------


def _line_of(fn: Any, text: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


@aion.workflow(name="bad.yields_int")
def yields_int() -> Any:
    yield 42


def test_yield_of_a_non_command_fails_the_workflow_naming_the_line(tmp_path: Path) -> None:
    line = _line_of(yields_int, "yield 42")
    with aion.Engine(str(tmp_path / "db.duckdb"), workflows=[yields_int]) as engine:
        engine.start(yields_int, workflow_id="y")
        with pytest.raises(aion.WorkflowFailedError) as info:
            engine.run_until_complete("y")
    assert info.value.error_type == "aion.WorkflowYieldError"
    assert info.value.error_message == (
        f"workflow 'bad.yields_int' yielded a int (\"42\") at tests/test_bad_input.py:{line}; "
        "a workflow may only yield aion commands such as aion.call(...)."
    )


@aion.workflow(name="bad.raises")
def raises(order_id: str) -> Any:
    yield aion.call(echo, order_id)
    raise ValueError(f"order {order_id} has no lines")


def test_workflow_that_raises_is_recorded_failed_with_its_traceback(tmp_path: Path) -> None:
    with aion.Engine(str(tmp_path / "db.duckdb"), workflows=[raises], activities=[echo]) as engine:
        engine.start(raises, "o-9", workflow_id="r")
        with pytest.raises(aion.WorkflowFailedError) as info:
            engine.run_until_complete("r")
        assert str(info.value) == "workflow 'r' failed: ValueError: order o-9 has no lines"
        assert info.value.error_type == "ValueError"
        assert 'raise ValueError(f"order {order_id} has no lines")' in info.value.traceback
        assert engine.describe("r").status == "failed"


def test_workflow_looping_without_yielding_is_stalled_naming_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Interpreter, "step_budget", 0.3)

    @aion.workflow(name="bad.spins")
    def spins() -> Any:
        yield aion.call(echo, 1)
        total = 0
        while total >= 0:
            total += 1
        return total

    line = _line_of(spins, "total += 1")
    with aion.Engine(
        str(tmp_path / "db.duckdb"), workflows=[spins, simple], activities=[echo]
    ) as engine:
        engine.start(spins, workflow_id="s")
        engine.start(simple, 3, workflow_id="other")
        with pytest.raises(aion.WorkflowStalledError):
            engine.run_until_complete("s")
        reason = engine.describe("s").stalled_reason or ""
        assert re.fullmatch(
            r"workflow 'bad\.spins' ran for more than 0\.3s without yielding, at "
            rf"tests/test_bad_input\.py:(?:{line - 1}|{line}) in spins: workflow code must not "
            r"loop or block between yields\.",
            reason,
        ), reason
        assert engine.run_until_complete("other") == 3  # the engine was not hung


# --- activities that misbehave --------------------------------------------------------------

RELEASE = threading.Event()


@aion.activity(
    name="bad.hangs",
    timeout=timedelta(seconds=0.2),
    retry=aion.RetryPolicy(max_attempts=2, initial_interval=timedelta(seconds=0.01)),
)
def hangs() -> str:
    RELEASE.wait(10)
    return "late"


@aion.workflow(name="bad.calls_hang")
def calls_hang() -> Any:
    try:
        yield aion.call(hangs)
    except aion.ActivityError as exc:
        return [exc.cause_type, exc.message, exc.attempts]
    return "finished"


def test_activity_hanging_past_its_timeout(tmp_path: Path) -> None:
    RELEASE.clear()
    try:
        with aion.Engine(
            str(tmp_path / "db.duckdb"), workflows=[calls_hang], activities=[hangs]
        ) as e:
            e.start(calls_hang, workflow_id="h")
            assert e.run_until_complete("h", timeout=10) == [
                "aion.ActivityTimeout",
                "attempt 2 of activity 'bad.hangs' ran past its timeout of 0.2s",
                2,
            ]
    finally:
        RELEASE.set()


@aion.activity(name="bad.exits", retry=aion.RetryPolicy(max_attempts=1))
def exits(how: str) -> str:
    if how == "sys.exit":
        raise SystemExit(3)
    if how == "thread.exit":
        _thread.exit()
    raise KeyboardInterrupt


@aion.workflow(name="bad.calls_exit")
def calls_exit(how: str) -> Any:
    try:
        yield aion.call(exits, how)
    except aion.ActivityError as exc:
        after = yield aion.call(echo, "pool still works")
        return [exc.cause_type, exc.message, after]
    return "no error"


@pytest.mark.parametrize(
    ("how", "cause", "message"),
    [
        ("sys.exit", "SystemExit", "3"),
        ("thread.exit", "SystemExit", ""),
        ("interrupt", "KeyboardInterrupt", ""),
    ],
)
def test_activity_that_kills_its_pool_thread(
    tmp_path: Path, how: str, cause: str, message: str
) -> None:
    path = str(tmp_path / "db.duckdb")
    with aion.Engine(
        path, workflows=[calls_exit], activities=[exits, echo], max_workers=1
    ) as engine:
        engine.start(calls_exit, how, workflow_id="x")
        assert engine.run_until_complete("x", timeout=10) == [cause, message, "pool still works"]
