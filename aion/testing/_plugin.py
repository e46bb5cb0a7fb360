"""The pytest plugin (entry point ``aion``): a ``workflow_env`` fixture and the lint hook.

Installed with aion; pytest loads it automatically. It imports nothing from
hypothesis, so projects that only use the fixture do not need hypothesis.

The lint hook is opt-in: list the paths holding workflow code in the
``aion_lint`` ini option (``aion_lint = src/flows``) and the session gets
one ``aion-lint`` test that fails with every finding of ``aion lint``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aion.testing._env import WorkflowEnvironment


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``aion_lint`` ini option."""
    parser.addini(
        "aion_lint",
        "paths whose @aion.workflow code `aion lint` checks as one test",
        type="linelist",
        default=[],
    )


class LintItem(pytest.Item):
    """One test: ``aion lint`` over the configured paths finds nothing."""

    def __init__(self, *, paths: list[str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.paths = paths

    def runtest(self) -> None:
        """Lint; fail listing the findings."""
        from aion.testing._lint import lint_paths

        findings = lint_paths(self.paths)
        if findings:
            raise LintFailure("\n".join(str(f) for f in findings))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None
    ) -> str:
        """Just the findings, no traceback."""
        if isinstance(excinfo.value, LintFailure):
            return f"aion lint found nondeterminism in workflow code:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        """Where the item comes from, for the report line."""
        return self.paths[0] if self.paths else ".", None, "aion-lint"


class LintFailure(AssertionError):
    """What the lint item raises: the findings, one per line."""


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the ``aion-lint`` item when ``aion_lint`` names paths."""
    raw = config.getini("aion_lint")
    if not raw:
        return
    root = Path(str(config.rootpath))
    paths = [str(root / p) for p in raw]
    items.append(LintItem.from_parent(session, name="aion-lint", paths=paths))


@pytest.fixture
def workflow_env() -> Iterator[WorkflowEnvironment]:
    """A fresh `aion.testing.WorkflowEnvironment`, closed after the test."""
    env = WorkflowEnvironment()
    try:
        yield env
    finally:
        env.close()
