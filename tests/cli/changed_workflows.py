"""The same workflow names as `sample_workflows`, with `order` edited incompatibly.

Replaying histories recorded by `sample_workflows.order` against this module
must report a divergence at the activity call (a different amount is charged).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aion
from tests.cli.sample_workflows import approval, broken, charge, double, flaky, quick, retrying

__all__ = ["approval", "broken", "charge", "double", "flaky", "order", "quick", "retrying"]


@aion.workflow
def order(order_id: str, cents: int) -> Any:
    receipt = yield aion.call(charge, order_id, cents + 1)
    yield aion.sleep(timedelta(seconds=30))
    return {"receipt": receipt, "total": cents * 2}
