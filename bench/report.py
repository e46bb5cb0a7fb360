"""The markdown table every benchmark's rows are printed as (BENCHMARKS.md)."""

from __future__ import annotations

import math
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


def table(rows: list[Row]) -> str:
    """The rows as the markdown table of BENCHMARKS.md."""
    lines = [
        "| section | measurement | value | unit | detail | target | met |",
        "|---|---|---:|---|---|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.get("ok")]
        detail = r.get("detail", "")
        if "ratio" in r:
            detail = f"{detail}; **aion is {r['ratio']:,.1f}x faster**".lstrip("; ")
        lines.append(
            f"| {r['section']} | {r['what']} | {fmt(r['value'])} | {r['unit']} | {detail} "
            f"| {r.get('target', '')} | {met} |"
        )
    return "\n".join(lines)
