"""aion's benchmark harness (``nox -s bench``); not part of the test suite."""
