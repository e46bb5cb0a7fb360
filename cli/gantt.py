"""``aion inspect --html``: one self-contained page with a Gantt timeline of a history.

The page is plain HTML with inline CSS and an inline SVG: no scripts, no
fonts or files fetched, so it opens anywhere (an attachment, an air-gapped
machine, a CI artefact) and looks the same. Each command is a lane: a bar
from when it was recorded to its outcome, coloured by kind, with a tick per
failed activity attempt; hovering a bar shows its details.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape

from aion.events import Event, WorkflowStarted

from .timeline import Span, command_spans, fmt_duration, fmt_time, split_runs

COLOURS = {
    "activity": "#3b82f6",
    "timer": "#f59e0b",
    "timeout": "#ef4444",
    "signal": "#10b981",
    "send": "#14b8a6",
    "child": "#8b5cf6",
    "group": "#64748b",
}
LABEL_W = 300
CHART_W = 860
LANE_H = 26
BAR_H = 16
TOP = 40

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; background: #ffffff; color: #0f172a; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
p.meta { color: #475569; margin: 0 0 16px 0; font-size: 13px; }
svg text { font-family: ui-monospace, monospace; font-size: 12px; }
.legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
           vertical-align: -1px; }
"""


def _x(at: datetime, t0: datetime, scale: float) -> float:
    return LABEL_W + (at - t0).total_seconds() * scale


def _lane(
    span: Span, y: int, t0: datetime, t_end: datetime, scale: float, run_label: str
) -> list[str]:
    end = span.end or t_end
    x0 = _x(span.start, t0, scale)
    width = max(_x(end, t0, scale) - x0, 4.0)
    colour = COLOURS.get(span.kind, "#64748b")
    opacity = "1" if span.end is not None else "0.45"
    tip = (
        f"{run_label} #{span.ordinal} {span.kind} {span.name}\n{span.outcome or 'pending'} "
        f"after {fmt_duration(span.duration)}\nfrom {fmt_time(span.start)}\nat {span.source}"
    )
    if span.attempts:
        tip += f"\n{len(span.attempts)} attempt(s)"
    label = f"#{span.ordinal} {span.kind} {span.name}"
    out = [
        f'<text x="8" y="{y + BAR_H - 3}">{escape(label[:38])}</text>',
        f'<g><title>{escape(tip)}</title><rect x="{x0:.1f}" y="{y}" width="{width:.1f}" '
        f'height="{BAR_H}" rx="3" fill="{colour}" fill-opacity="{opacity}"/></g>',
    ]
    for attempt in span.attempts:
        if not attempt.ok:
            ax = _x(attempt.at, t0, scale)
            out.append(
                f"<g><title>{escape(f'attempt {attempt.number}: {attempt.detail}')}</title>"
                f'<rect x="{ax - 1.5:.1f}" y="{y - 3}" width="3" height="{BAR_H + 6}" '
                'fill="#dc2626"/></g>'
            )
    return out


def gantt_html(workflow_id: str, history: Sequence[Event]) -> str:
    """The whole page as text."""
    runs = split_runs(history)
    t0 = history[0].recorded_at if history else datetime.now(UTC)
    t_end = max((e.recorded_at for e in history), default=t0)
    total = max((t_end - t0).total_seconds(), 1e-3)
    scale = (CHART_W - 20) / total
    body: list[str] = []
    y = TOP
    for run in runs:
        started = run.events[0]
        args = started.args if isinstance(started, WorkflowStarted) else []
        run_label = f"run {run.number}"
        heading = f"{run_label} · {run.workflow_type}({', '.join(map(repr, args))})"
        body.append(f'<text x="8" y="{y + 12}" font-weight="bold">{escape(heading)}</text>')
        y += LANE_H
        for span in command_spans(run.events):
            body.extend(_lane(span, y, t0, t_end, scale, run_label))
            y += LANE_H
        y += 6
    height = y + 10
    ticks = []
    for i in range(6):
        x = LABEL_W + (CHART_W - 20) * i / 5
        ticks.append(
            f'<line x1="{x:.1f}" y1="{TOP - 10}" x2="{x:.1f}" y2="{height - 10}" stroke="#e2e8f0"/>'
        )
        label = "+" + fmt_duration(timedelta(seconds=total * i / 5))
        ticks.append(f'<text x="{x + 2:.1f}" y="{TOP - 16}" fill="#64748b">{escape(label)}</text>')
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + CHART_W}" height="{height}" '
        f'viewBox="0 0 {LABEL_W + CHART_W} {height}">'
        f'<rect x="0" y="0" width="{LABEL_W + CHART_W}" height="{height}" fill="#f8fafc"/>'
        + "".join(ticks)
        + "".join(body)
        + "</svg>"
    )
    legend = "".join(f'<span><i style="background:{c}"></i>{k}</span>' for k, c in COLOURS.items())
    last = history[-1] if history else None
    status = type(last).__name__ if last is not None else "empty"
    meta = (
        f"{len(history)} events · {len(runs)} run(s) · "
        f"from {fmt_time(t0)} to {fmt_time(t_end)} UTC "
        f"({fmt_duration(t_end - t0)}) · last event {status}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>aion · {escape(workflow_id)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{escape(workflow_id)}</h1><p class="meta">{escape(meta)}</p>'
        f'<div class="legend">{legend}'
        '<span><i style="background:#dc2626"></i>failed attempt</span></div>'
        f"{svg}</body></html>\n"
    )
