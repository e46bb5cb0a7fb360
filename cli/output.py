"""Pure renderers: data in, rich renderables out. Nothing here prints.

Keeping rendering apart from commands lets the tests assert exact text for a
given input without a terminal, and keeps each command module about what it
does rather than how it looks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

import aion
from aion.store import WorkflowInfo

from .safe import clean, data
from .sources import source_line
from .when import fmt_time

STATUS_STYLE = {
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "stalled": "bold red",
    "continued_as_new": "blue",
}


def value_text(value: Any) -> str:
    """A JSON value as compact, stable text (sorted keys), control characters escaped."""
    return clean(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


def status_text(status: str) -> Text:
    """A status word in its colour."""
    return data(status, STATUS_STYLE.get(status, ""))


def workflows_table(infos: Sequence[WorkflowInfo]) -> RenderableType:
    """``aion list`` on a terminal: one row per workflow, statuses in colour."""
    if not infos:
        return Text("no workflows match.")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("id", overflow="fold", min_width=6)
    table.add_column("type", overflow="fold", min_width=4)
    table.add_column("status", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("closed (UTC)", no_wrap=True)
    table.add_column("events", justify="right", no_wrap=True)
    several_runs = any(info.runs > 1 for info in infos)
    if several_runs:  # only worth a column when continue-as-new happened
        table.add_column("runs", justify="right", no_wrap=True)
    for info in infos:
        table.add_row(
            data(info.workflow_id),
            data(info.workflow_type),
            status_text(info.status),
            fmt_time(info.started_at, millis=False),
            fmt_time(info.closed_at, millis=False),
            str(info.last_seq),
            *([str(info.runs)] if several_runs else []),
        )
    return table


def description(desc: aion.WorkflowDescription) -> RenderableType:
    """``aion describe``: status, why stalled, pending commands and timers."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("workflow", data(desc.workflow_id))
    grid.add_row("type", data(desc.workflow_type))
    grid.add_row("status", status_text(desc.status))
    grid.add_row("run", data(f"{desc.run_id} ({desc.runs} run{'s' if desc.runs != 1 else ''})"))
    if desc.parent_id:
        grid.add_row("parent", data(desc.parent_id))
    grid.add_row("started", fmt_time(desc.started_at))
    grid.add_row("closed", fmt_time(desc.closed_at))
    grid.add_row("events", str(desc.last_seq))
    if desc.status == "completed":
        grid.add_row("result", Text(value_text(desc.result)))
    if desc.error:
        grid.add_row("error", data(desc.error, "red", newlines=True))
    parts: list[RenderableType] = [grid]
    if desc.stalled_reason:
        parts.append(
            Panel(
                data(desc.stalled_reason, newlines=True),
                title="why it is stalled",
                border_style="red",
                title_align="left",
                box=box.ROUNDED,
            )
        )
    if desc.pending:
        parts.append(Text("waiting on:", style="bold"))
        parts.extend(data(f"  {line}") for line in desc.pending)
    elif desc.status in ("running", "stalled"):
        parts.append(Text("waiting on: nothing recorded yet (a worker picks it up when it runs)"))
    if desc.timers:
        parts.append(Text("timers:", style="bold"))
        parts.extend(
            data(f"  #{t.ordinal} {t.kind} due {fmt_time(t.fire_at)}") for t in desc.timers
        )
    return Group(*parts)


def _source_line(source: str) -> str:
    path, _, line = source.rpartition(":")
    if not path or not line.isdigit() or len(line) > 9:
        return ""
    return source_line(path, int(line))


def divergence_panel(err: aion.NondeterminismError, title: str = "") -> RenderableType:
    """Recorded vs current at the diverging seq, side by side, with the events around it."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=True)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("recorded (history)", ratio=1, overflow="fold")
    table.add_column("current (code)", ratio=1, overflow="fold")
    rec, cur = err.recorded, err.current
    differs = False
    for key in ("kind", "ordinal", "name", "args", "source"):
        left, right = rec.get(key), cur.get(key)
        left_text = "" if left in (None, "") else str(left)
        right_text = "" if right in (None, "") else str(right)
        style = "" if left_text == right_text else "bold yellow"
        differs = differs or (key != "source" and left_text != right_text)
        table.add_row(key, data(left_text, style), data(right_text, style))
    if not differs:  # never two identical columns: say where the difference is
        table.add_row(
            "differs",
            data("in arguments or options not shown here (the digest does not match)"),
            data("`aion inspect ID --json` shows the recorded event in full"),
        )
    code_left, code_right = (
        _source_line(str(rec.get("source") or "")),
        _source_line(str(cur.get("source") or "")),
    )
    if code_left or code_right:
        table.add_row("line", data(code_left), data(code_right))
    parts: list[RenderableType] = [table]
    if err.context:
        parts.append(Text("around it:", style="bold"))
        for line in err.context:
            marker = "→ " if line.startswith(f"seq {err.seq} ") else "  "
            parts.append(data(marker + line, "bold" if marker != "  " else ""))
    parts.append(Text("guard the change with aion.patched(), or revert it.", style="dim"))
    heading = data(title or f"divergence in {err.workflow_id!r} at seq {err.seq}")
    return Panel(
        Group(*parts), title=heading, title_align="left", border_style="red", box=box.ROUNDED
    )


def replay_line(result: aion.ReplayResult, note: str = "") -> Text:
    """One result of a replay, as a line: ``ok order-1: completed after 6 events``."""
    if result.divergence is not None:
        text = Text("diverged ", style="bold red")
        text.append(clean(f"{result.workflow_id}: at seq {result.divergence.seq}"))
    elif not result.ok:
        text = Text("error ", style="bold red")
        text.append(clean(f"{result.workflow_id}: {result.error}"))
    else:
        text = Text("ok ", style="bold green")
        text.append(clean(f"{result.workflow_id}: {result.status} after {result.events} events"))
    if note:
        text.append(clean(f" ({note})"))
    return text


def replay_summary(summary: aion.ReplaySummary) -> RenderableType:
    """``aion replay --all``: the counts, then each workflow that did not replay cleanly."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("replayed", "ok", "diverged", "error"):
        table.add_column(name, justify="right")
    table.add_row(
        str(summary.replayed),
        Text(str(summary.ok), style="green"),
        Text(str(summary.diverged), style="red" if summary.diverged else ""),
        Text(str(summary.errors), style="red" if summary.errors else ""),
    )
    bad = [r for r in summary.results if not r.ok]
    if not bad:
        return table
    problems = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left")
    problems.add_column("workflow")
    problems.add_column("problem", overflow="fold")
    for result in bad:
        what = (
            f"diverged at seq {result.divergence.seq}" if result.divergence else str(result.error)
        )
        problems.add_row(data(result.workflow_id), data(what))
    return Group(table, Text(""), problems)
