"""Nothing a workflow raises escapes the engine (issue 11, defect 2).

`SystemExit`, `KeyboardInterrupt`, `GeneratorExit` or any other
`BaseException` raised by workflow code fails that workflow with its type,
message and traceback. A real Ctrl-C (SIGINT delivered to the engine's
thread, here the main thread, while workflow code runs) still stops
`serve()`, and records nothing about the workflow it interrupted.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import aion
from aion._events import WorkflowFailed, WorkflowStarted
from aion.store import Append


class Custom(BaseException):
    """A BaseException of the workflow's own."""


RAISED: dict[str, BaseException] = {
    "exit": SystemExit(3),
    "interrupt": KeyboardInterrupt("raised by the workflow"),
    "generator_exit": GeneratorExit("closing"),
    "custom": Custom("mine"),
}


@aion.activity
def step(n: int) -> int:
    return n + 1


@aion.workflow
def raiser(kind: str) -> Any:
    value = yield aion.call(step, 1)
    raise RAISED[kind]
    return value  # pragma: no cover - unreachable


@aion.workflow
def fine(n: int) -> Any:
    value = yield aion.call(step, n)
    return value


EXPECTED_TYPES = {
    "exit": ("SystemExit", "3"),
    "interrupt": ("KeyboardInterrupt", "raised by the workflow"),
    "generator_exit": ("GeneratorExit", "closing"),
    "custom": ("tests.test_base_exceptions.Custom", "mine"),
}


@pytest.mark.parametrize("kind", sorted(RAISED))
def test_a_base_exception_fails_only_its_workflow(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.duckdb"
    with aion.Engine(str(path), workflows=[raiser, fine], activities=[step]) as engine:
        engine.start(raiser, kind, workflow_id="bad")
        engine.start(fine, 41, workflow_id="good")
        with pytest.raises(aion.WorkflowFailedError) as caught:
            engine.run_until_complete("bad")
        error_type, message = EXPECTED_TYPES[kind]
        assert caught.value.error_type == error_type
        assert caught.value.error_message == message
        assert "raise RAISED[kind]" in (caught.value.traceback or "")
        assert engine.run_until_complete("good") == 42
    # The file reopens; the failure is recorded once and stays.
    with aion.Engine(str(path), workflows=[raiser, fine], activities=[step]) as engine:
        ends = [e for e in engine.history("bad") if isinstance(e, WorkflowFailed)]
        assert len(ends) == 1
        assert engine.describe("bad").status == "failed"


def test_serve_keeps_serving_after_a_workflow_raises_system_exit(tmp_path: Path) -> None:
    stop = threading.Event()
    with aion.Engine(str(tmp_path / "s.duckdb"), workflows=[raiser, fine], activities=[step]) as e:
        server = threading.Thread(target=e.serve, args=(stop,))
        server.start()
        try:
            bad = e.start(raiser, "exit", workflow_id="bad")
            with pytest.raises(aion.WorkflowFailedError, match="SystemExit"):
                bad.result(timeout=30)
            assert e.start(fine, 1, workflow_id="after").result(timeout=30) == 2
            assert server.is_alive()
        finally:
            stop.set()
            server.join()


def test_a_file_holding_such_a_workflow_still_opens(tmp_path: Path) -> None:
    """A file left by older code: the workflow was recorded running and raises on replay."""
    path = tmp_path / "old.duckdb"
    store = aion.DuckDBStore(path)
    store.append(
        [
            Append(
                workflow_id="old",
                expected_seq=0,
                events=[
                    WorkflowStarted(
                        seq=1,
                        run_id="r1",
                        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
                        name="raiser",
                        args=["exit"],
                        workflow_id="old",
                    )
                ],
            )
        ]
    )
    store.close()
    with (
        aion.Engine(str(path), workflows=[raiser, fine], activities=[step]) as engine,
        pytest.raises(aion.WorkflowFailedError, match="SystemExit"),
    ):
        engine.run_until_complete("old")
    with aion.Engine(str(path), workflows=[raiser, fine], activities=[step]) as engine:
        assert engine.describe("old").status == "failed"
        assert engine.start(fine, 5).result(timeout=30) == 6


SPINNING = threading.Event()
SPIN_ONCE = {"armed": True}


@aion.workflow
def spinner(n: int) -> Any:
    value = yield aion.call(step, n)
    if SPIN_ONCE["armed"]:
        SPIN_ONCE["armed"] = False
        SPINNING.set()
        while True:  # until Ctrl-C lands here, on the engine's (main) thread
            pass
    return value


def test_a_real_ctrl_c_during_workflow_code_still_stops_serve(tmp_path: Path) -> None:
    assert threading.current_thread() is threading.main_thread()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    path = tmp_path / "ctrl-c.duckdb"
    SPINNING.clear()
    SPIN_ONCE["armed"] = True

    def press_ctrl_c() -> None:
        SPINNING.wait(60)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    engine = aion.Engine(str(path), workflows=[spinner], activities=[step])
    try:
        engine.start(spinner, 1, workflow_id="spin")
        presser.start()
        with pytest.raises(KeyboardInterrupt):
            engine.serve()
    finally:
        presser.join()
        engine.close()
    # Nothing about the interrupted workflow was recorded as its failure...
    with aion.Engine(str(path), workflows=[spinner], activities=[step]) as engine:
        assert all(not isinstance(e, WorkflowFailed) for e in engine.history("spin"))
        # ...and it simply continues on the next open.
        assert engine.run_until_complete("spin") == 2


def test_a_real_ctrl_c_while_serve_waits_stops_it(tmp_path: Path) -> None:
    assert threading.current_thread() is threading.main_thread()
    with aion.Engine(str(tmp_path / "idle.duckdb"), workflows=[fine], activities=[step]) as e:
        e.start(fine, 1, workflow_id="done")
        e.run_until_complete("done")

        def press_ctrl_c_once_serving() -> None:
            while not e._runtime.serving:  # observed progress: serve() has begun its loop
                threading.Event().wait(0.01)
            os.kill(os.getpid(), signal.SIGINT)

        presser = threading.Thread(target=press_ctrl_c_once_serving)
        presser.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                e.serve()
        finally:
            presser.join()
