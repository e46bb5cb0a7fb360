"""Timelines tell the truth about ``collect_*`` groups: a bar ends when its group settled."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from aion_cli.gantt import LABEL_W, gantt_html
from aion_cli.timeline import command_spans, split_runs

import aion
from tests.cli import group_workflows as g
from tests.cli import sample_workflows as s
from tests.cli.conftest import EPOCH, Invoke


@pytest.fixture
def grouped(tmp_path: Path) -> Path:
    """gather-1 (collect_all settled at +1s, run ends at +31s), map-1 (collect_map done, waits)."""
    db = tmp_path / "groups.duckdb"
    clock = aion.ManualClock(EPOCH)
    engine = aion.Engine(
        str(db),
        workflows=[g.gather_then_wait, g.mapped_then_signal],
        activities=[s.double],
        clock=clock,
    )
    try:
        engine.start(g.gather_then_wait, workflow_id="gather-1")
        engine.start(g.mapped_then_signal, workflow_id="map-1")
        for _ in range(35):
            engine.run_until_idle()
            clock.advance(timedelta(seconds=1))
        engine.run_until_idle()
    finally:
        engine.close()
    return db


def _spans(db: Path, workflow_id: str) -> dict[str, tuple[str | None, timedelta | None]]:
    store = aion.DuckDBStore(db, read_only=True)
    try:
        events = store.history(workflow_id)
    finally:
        store.close()
    run = split_runs(events)[0]
    return {
        f"{sp.ordinal} {sp.name}": (sp.outcome, None if sp.end is None else sp.end - EPOCH)
        for sp in command_spans(run.events)
    }


def test_a_collect_all_ends_when_its_members_settled(grouped: Path) -> None:
    spans = _spans(grouped, "gather-1")
    assert spans["1 collect_all"] == ("settled", timedelta(seconds=1))
    assert spans["4 sleep 30s"] == ("fired", timedelta(seconds=31))  # the run goes on


def test_a_completed_collect_map_is_not_pending(grouped: Path) -> None:
    spans = _spans(grouped, "map-1")
    assert spans["1 collect_map"] == ("settled", timedelta(0))
    assert spans["6 go"] == (None, None)  # the signal it waits for afterwards is


def test_inspect_shows_the_groups_durations(invoke: Invoke, grouped: Path) -> None:
    rows = invoke("inspect", "gather-1", db=grouped).stdout.splitlines()
    group = next(r for r in rows if "collect_all" in r and "settled" in r)
    assert group.split()[-1] == "1s"
    mapped = invoke("inspect", "map-1", db=grouped).stdout
    assert re.search(r"collect_map\s+settled", mapped)
    assert not re.search(r"collect_map\s+pending", mapped)


def test_the_html_bar_of_a_group_stops_where_it_settled(grouped: Path) -> None:
    store = aion.DuckDBStore(grouped, read_only=True)
    try:
        events = store.history("gather-1")
    finally:
        store.close()
    page = gantt_html("gather-1", events)
    bars = re.findall(
        r'<title>run 1 #(\d+)[^<]*</title><rect x="([\d.]+)" y="\d+" width="([\d.]+)"', page
    )
    extent = {int(o): float(x) + float(w) - LABEL_W for o, x, w in bars}
    # +1s of a 31s run: the group's bar is 1/31 as long as the run's last bar.
    assert extent[1] == pytest.approx(extent[4] / 31, rel=0.02)
