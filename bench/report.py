"""The markdown table every benchmark's rows are printed as (BENCHMARKS.md)."""

from __future__ import annotations

import math
import statistics
from typing import Any

Row = dict[str, Any]


def fmt(value: float) -> str:
    """A figure with as many digits as it deserves (``-`` for a figure not measured)."""
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def merge_runs(runs: list[list[Row]]) -> list[Row]:
    """One row per measurement over whole runs: the median value, every run's value beside it.

    Rows are matched by section and measurement, in the first run's order (a
    row only some runs produced comes after, from the run that has it). A
    target counts as met only when it was met in every run that measured it;
    the detail is the first run's, so its parts read "run 1".
    """
    merged: dict[tuple[str, str], list[Row]] = {}
    for run in runs:
        for row in run:
            merged.setdefault((row["section"], row["what"]), []).append(row)
    out: list[Row] = []
    for same in merged.values():
        row = dict(same[0])
        values = [r["value"] for r in same]
        finite = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
        row["value"] = statistics.median(finite) if finite else float("nan")
        row["runs"] = values
        oks = [r.get("ok") for r in same if r.get("ok") is not None]
        row["ok"] = all(oks) if oks else None
        if len(runs) > 1 and len(same) > 1:
            row["detail"] = f"run 1: {row.get('detail', '')}".rstrip(": ")
        out.append(row)
    return out


def table(rows: list[Row]) -> str:
    """The rows as the markdown table of BENCHMARKS.md (with a runs column when merged)."""
    runs = any("runs" in r for r in rows)
    lines = [
        "| section | measurement | value | "
        + ("each run | " if runs else "")
        + "unit | detail | target | met |",
        "|---|---|---:|" + ("---:|" if runs else "") + "---|---|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.get("ok")]
        detail = r.get("detail", "")
        if "ratio" in r:
            detail = f"{detail}; **aion is {r['ratio']:,.1f}x faster**".lstrip("; ")
        each = " / ".join(fmt(v) for v in r.get("runs", [r["value"]]))
        lines.append(
            f"| {r['section']} | {r['what']} | {fmt(r['value'])} | "
            + (f"{each} | " if runs else "")
            + f"{r['unit']} | {detail} | {r.get('target', '')} | {met} |"
        )
    return "\n".join(lines)
