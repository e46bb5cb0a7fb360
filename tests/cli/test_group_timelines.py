"""Timelines tell the truth about ``collect_*`` groups: a bar ends when its group settled."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from aion_cli.gantt import LABEL_W, gantt_html
from aion_cli.timeline import command_spans, split_runs

import aion
from tests.cli import group_workflows as g
from tests.cli import sample_workflows as s
from tests.cli.conftest import EPOCH, Invoke, run_aion


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


def test_a_changed_member_count_shows_in_the_divergence_report(
    invoke: Invoke, tmp_path: Path
) -> None:
    db = tmp_path / "fan.duckdb"
    engine = aion.Engine(str(db), workflows=[g.fan], activities=[s.double])
    try:
        engine.start(g.fan, workflow_id="fan-1")
        engine.run_until_complete("fan-1")
    finally:
        engine.close()
    result = invoke("replay", "fan-1", "-m", "tests.cli.group_workflows_v2", db=db)
    assert result.exit_code == 1
    args_row = next(line for line in result.stdout.splitlines() if " args " in line)
    assert "of 2" in args_row and "of 3" in args_row
    as_json = invoke("replay", "fan-1", "-m", "tests.cli.group_workflows_v2", "--json", db=db)
    divergence = json.loads(as_json.stdout)[0]["divergence"]
    assert (divergence["recorded"]["args"], divergence["current"]["args"]) == ("of 2", "of 3")
    sub = run_aion("--db", str(db), "replay", "fan-1", "-m", "tests.cli.group_workflows_v2")
    assert sub.returncode == 1 and "of 3" in sub.stdout


def _panel_text(recorded: dict[str, object], current: dict[str, object]) -> str:
    from aion_cli.output import divergence_panel
    from rich.console import Console

    err = aion.NondeterminismError(
        "diverged", workflow_id="w", seq=2, recorded=recorded, current=current
    )
    console = Console(width=200, no_color=True, record=True, file=io.StringIO())
    console.print(divergence_panel(err))
    return console.export_text()


def test_a_divergence_never_shows_two_identical_columns_without_saying_so() -> None:
    same = {"kind": "ActivityScheduled", "ordinal": 1, "name": "charge", "args": '("o-1", …)'}
    text = _panel_text({**same, "source": "a.py:3"}, {**same, "source": "a.py:3"})
    assert "in arguments or options not shown here" in text
    shown = _panel_text(same, {**same, "args": '("o-2", …)'})
    assert "not shown here" not in shown
