"""One order for outcomes committed together: lowest ordinal first.

Outcomes reach a batch from many places (activity completions, timers due at
the same instant, children that ended in the same step, signal deliveries),
each in whatever order its source produced them. The interpreter applies a
history's outcomes in recorded order, and the first one to settle a group,
race or deadline decides it. So the batch fixes that order once, the same
for every kind: within each stretch of consecutive outcomes of one
workflow, the ones that belong to a command go by ordinal (stable), and
those that do not (signals received, cancel requests) keep their places.
"fail fast raises the lowest ordinal among simultaneous failures" and "a
deadline recorded with its inner command's outcome wins" follow from that.
"""

from __future__ import annotations

from aion._events import Decision


def outcomes_by_ordinal(items: list[Decision]) -> list[Decision]:
    """``items`` with each stretch of consecutive outcomes sorted by ordinal (stable)."""
    if len(items) < 2:
        return items  # nothing to order (most workflows of a batch under load)
    out = list(items)
    start = 0
    n = len(out)
    while start < n:
        if out[start].kind.FAMILY != "outcome":
            start += 1
            continue
        end = start
        while end < n and out[end].kind.FAMILY == "outcome":
            end += 1
        slots = [i for i in range(start, end) if "ordinal" in out[i].fields]
        if len(slots) > 1:
            ordered = sorted((out[i] for i in slots), key=lambda item: item.fields["ordinal"])
            for slot, item in zip(slots, ordered, strict=True):
                out[slot] = item
        start = end
    return out
