"""The pytest plugin (entry point ``aion``): a ``workflow_env`` fixture.

Installed with aion; pytest loads it automatically. It imports nothing from
hypothesis, so projects that only use the fixture do not need hypothesis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aion.testing._env import WorkflowEnvironment


@pytest.fixture
def workflow_env() -> Iterator[WorkflowEnvironment]:
    """A fresh `aion.testing.WorkflowEnvironment`, closed after the test."""
    env = WorkflowEnvironment()
    try:
        yield env
    finally:
        env.close()
