"""`fan` with one member more than `group_workflows.fan`: replay must diverge, visibly."""

from __future__ import annotations

from typing import Any

import aion
from tests.cli.sample_workflows import double

__all__ = ["double", "fan"]


@aion.workflow
def fan() -> Any:
    values = yield aion.collect_all(
        [aion.call(double, 1), aion.call(double, 2), aion.call(double, 3)]
    )
    return values
