"""Type-checked, never run: what mypy --strict proves about aion's typing.

`tests/test_typing.py` runs mypy on this folder and requires no errors. Every
``# type: ignore[code]`` below marks an error mypy must still report: the
project's mypy config has ``warn_unused_ignores`` (via ``strict``), so if a
regression made one of these lines type-check, the ignore would become unused
and the test would fail.
"""

from datetime import datetime, timedelta
from typing import Any, assert_type
from uuid import UUID

import aion


@aion.activity
def charge(order_id: str, cents: int) -> int:
    return cents


@aion.activity(retry=aion.RetryPolicy(max_attempts=2), timeout=timedelta(seconds=5))
async def fetch(url: str, *, attempts: int = 1) -> bytes:
    return url.encode() * attempts


@aion.workflow
def invoice(order_id: str) -> aion.WorkflowGen[str]:
    cents = yield aion.call(charge, order_id, 5)
    return f"{order_id}:{cents}"


@aion.workflow(name="order")
def order(order_id: str, cents: int) -> aion.WorkflowGen[dict[str, Any]]:
    # The idiom: arguments are checked against the activity's signature; the
    # value of a yield is Any (a generator has one send type), so annotate it.
    receipt: int = yield aion.call(charge, order_id, cents)
    body: bytes = yield aion.call(fetch, "https://example.org", attempts=2)
    when: datetime = yield aion.now()
    handle = yield aion.start_child(invoice, order_id)
    text: str = yield aion.await_child(handle)
    return {"receipt": receipt, "body": body, "at": when, "invoice": text}


# --- The decorators keep the function's exact signature, bare and with options.
assert_type(charge("o-1", 5), int)
charge("o-1", "five")  # type: ignore[arg-type]
assert_type(order("o-1", 5), aion.WorkflowGen[dict[str, Any]])
order("o-1")  # type: ignore[call-arg]


# --- call() is checked against the activity and carries its value type.
assert_type(aion.call(charge, "o-1", 5), aion.Command[int])
assert_type(aion.call(charge, order_id="o-1", cents=5), aion.Command[int])
aion.call(charge, "o-1", "five")  # type: ignore[call-overload]
aion.call(charge, "o-1")  # type: ignore[call-overload]
# An async activity's value is what it returns, not its coroutine.
assert_type(aion.call(fetch, "u"), aion.Command[bytes])
aion.call(fetch, 3)  # type: ignore[call-overload]
# A per-call override keeps the value type (the arguments go unchecked).
assert_type(aion.call(charge, "o-1", 5, retry=aion.RetryPolicy()), aion.Command[int])
assert_type(aion.call(fetch, "u", timeout=timedelta(seconds=1)), aion.Command[bytes])
# By registered name nothing is known.
assert_type(aion.call("charge", "o-1", 5), aion.Command[Any])


# --- Every other command's value type.
assert_type(aion.sleep(1), aion.Command[None])
assert_type(aion.now(), aion.Command[datetime])
assert_type(aion.random(), aion.Command[float])
assert_type(aion.uuid4(), aion.Command[UUID])
assert_type(aion.receive_signal("approve"), aion.Command[Any])
assert_type(aion.send_signal("other", "go", 1), aion.Command[None])
assert_type(aion.patched("v2"), aion.Command[bool])
assert_type(aion.on_query("status", lambda: 1), aion.Command[None])
assert_type(aion.with_timeout(5, aion.call(charge, "o", 1)), aion.Command[int])
assert_type(aion.with_timeout(timedelta(days=2), aion.now()), aion.Command[datetime])
assert_type(aion.collect_all([aion.call(charge, "a", 1)]), aion.Command[list[int]])
assert_type(aion.collect_race([aion.call(fetch, "u")]), aion.Command[tuple[int, bytes]])
assert_type(aion.collect_map(charge, [("a", 1), ("b", 2)]), aion.Command[list[int]])
assert_type(aion.collect_map(fetch, ["u", "v"], concurrency=2), aion.Command[list[bytes]])
assert_type(aion.start_child(invoice, "o-1"), aion.Command[aion.ChildHandle[str]])
assert_type(aion.await_child(invoice, "o-1"), aion.Command[str])
aion.with_timeout(5, charge)  # type: ignore[arg-type]
aion.collect_all([aion.call(charge, "a", 1), 5])  # type: ignore[arg-type]


@aion.workflow
def mixed() -> aion.WorkflowGen[None]:
    # Members of different value types mix: Command is covariant in its value.
    values = yield aion.collect_all([aion.call(charge, "a", 1), aion.sleep(1)])
    assert_type(values, Any)
    yield aion.continue_as_new()


# --- What mypy cannot check, pinned so the docs stay honest.
@aion.workflow
def unchecked() -> aion.WorkflowGen[int]:
    value = yield aion.call(charge, "o-1", 5)
    assert_type(value, Any)  # the yield's value is not tied to the command's type
    wrong: str = yield aion.call(charge, "o-1", 5)  # accepted: Any fits any annotation
    return len(wrong)


# --- What a workflow annotated WorkflowGen[R] does get checked.
@aion.workflow
def bad_yield() -> aion.WorkflowGen[int]:
    yield 5  # type: ignore[misc]
    return 1


@aion.workflow
def bad_return() -> aion.WorkflowGen[int]:
    yield aion.sleep(1)
    return "one"  # type: ignore[return-value]
