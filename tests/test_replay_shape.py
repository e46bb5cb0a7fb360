"""What `aion.replay` refuses before running any code: a history with a gap in its seqs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import aion
from aion._events import Event

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@aion.activity
def echo(x: int) -> int:
    return x


@aion.workflow
def twice(x: int):  # type: ignore[no-untyped-def]
    a = yield aion.call(echo, x)
    b = yield aion.call(echo, a + 1)
    return a + b


def _history() -> list[Event]:
    engine = aion.Engine(":memory:", workflows=[twice], activities=[echo])
    try:
        engine.start(twice, 1, workflow_id="w")
        assert engine.run_until_complete("w", timeout=30) == 3
        return engine.history("w")
    finally:
        engine.close()


def test_a_whole_history_replays() -> None:
    assert aion.replay(twice, _history()).result == 3


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda h: h[:2] + h[3:], "skips from seq 2 to seq 4"),  # an event missing
        (lambda h: h[:3] + h[2:], "skips from seq 3 to seq 3"),  # one repeated
        (lambda h: [*h[:-2], h[-1], h[-2]], "skips from seq 4 to seq 6"),  # swapped
    ],
)
def test_a_gap_in_the_seqs_is_named(cut: object, message: str) -> None:
    history = cut(_history())  # type: ignore[operator]
    with pytest.raises(aion.HistoryError, match=message):
        aion.replay(twice, history)
