"""Shared fixtures and hypothesis profiles.

Profiles: ``ci`` (bounded and derandomized: the README test command),
``dev`` (the default for local runs) and ``thorough`` (``nox -s thorough``),
chosen by ``AION_HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("AION_HYPOTHESIS_PROFILE", "dev"))

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def epoch() -> datetime:
    """A fixed start time for ManualClock-driven tests."""
    return EPOCH


# The PostgreSQL fixtures (a fresh database per test session) for every test module.
from tests.postgres_fixture import pg_database as pg_database  # noqa: E402
from tests.postgres_fixture import pg_url as pg_url  # noqa: E402
