"""The aion test suite."""
