"""`digest_call`, the live call's short-cut, writes exactly `digest`'s text.

A call's digest is recorded in history and compared on every replay, so the
short-cut (a hashed prefix per activity, a hand-written single int) must give
the digest the general function gives, for every JSON argument list.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aion import _codec

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.text(min_size=1, max_size=12),
    st.lists(_values, max_size=3),
    st.dictionaries(st.text(max_size=4), _values, max_size=2),
)
def test_digest_call_is_the_activity_digest(
    activity: str, args: list[Any], kwargs: dict[str, Any]
) -> None:
    expected = _codec.digest("activity", activity, args, kwargs)
    assert _codec.digest_call(activity, args, kwargs) == expected
    assert _codec.digest_call(activity, args, kwargs) == expected  # the cached prefix too


@given(st.integers() | st.booleans())
def test_a_single_number_argument(value: int) -> None:
    expected = _codec.digest("activity", "tick", [value], {})
    assert _codec.digest_call("tick", [value], {}) == expected


def test_a_recorded_digest_is_unchanged() -> None:
    # Written by the code before the short-cut: histories recorded then must match.
    assert _codec.digest_call("tick", [5], {}) == "df6ad19f282b5e20"
    assert _codec.digest_call("t", [5], {"k": 1}) == "6f75a946d54a2819"
