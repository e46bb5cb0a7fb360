"""Workflows for the continue-as-new routing tests (importable by CLI subprocesses too)."""

from __future__ import annotations

from typing import Any

import aion


@aion.workflow(name="cas.relay")
def relay(expected: int, got: list[Any]) -> Any:
    """Takes one ``item`` signal per run, continuing as new after each until it has ``expected``."""
    item = yield aion.receive_signal("item")
    got = [*got, item]
    if len(got) < expected:
        yield aion.continue_as_new(expected, got)
    return got


@aion.workflow(name="cas.burst")
def burst(target: str, items: list[Any]) -> Any:
    """Sends every item to ``target`` at once (one batch of SignalSent decisions)."""
    yield aion.collect_all([aion.send_signal(target, "item", item) for item in items])
    return len(items)


WORKFLOWS = [relay, burst]
