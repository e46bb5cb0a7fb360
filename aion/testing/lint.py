"""The static determinism lint behind ``aion lint`` and the pytest hook."""

from aion.testing._lint import lint_paths as lint_paths

__all__ = ["lint_paths"]
