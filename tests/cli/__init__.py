"""Tests of the `aion` command line (mirrors cli/)."""
