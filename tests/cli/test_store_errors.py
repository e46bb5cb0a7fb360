# ruff: noqa: E501 - expected outputs are whole terminal lines
"""Store errors as exit codes: a locked, damaged or missing file, and the endpoint's errors.

The endpoint protocol itself (secret, client, errors carried back) is tested
in tests/test_endpoint.py and tests/security/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aion_cli.errors import classify

from aion.endpoint import EndpointError, RemoteError
from tests.cli.conftest import Invoke


def test_endpoint_errors_keep_the_workers_exit_code_and_hint() -> None:
    remote = RemoteError("no such thing.", type_name="WorkflowNotFound", code=2, hint="look.")
    assert classify(remote) == (2, "look.")  # as the worker classified it
    unclassified = RemoteError("boom.", type_name="ZeroDivisionError", code=None, hint="")
    assert classify(unclassified) == (3, "")
    assert classify(EndpointError("no answer.", "is it running?")) == (3, "is it running?")


def test_a_file_locked_by_another_process_names_its_pid(invoke: Invoke, fixed_db: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(fixed_db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = invoke("list")
        assert result.exit_code == 3
        first, hint = result.output.splitlines()
        assert first.startswith("error: cannot open ")
        assert f"the file is locked by process {holder.pid}." in first
        assert hint == "hint: stop the process that holds the file, or start `aion worker` on it."
    finally:
        holder.kill()
        holder.wait()


def test_damaged_and_missing_files_are_store_errors(invoke: Invoke, tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database at all" * 100)
    result = invoke("list", db=junk)
    assert result.exit_code == 3
    assert result.output == (
        f"error: cannot open {str(junk)!r}: it is not a DuckDB database file.\n"
        "hint: check the --db path (or AION_DB).\n"
    )
    missing = invoke("list", db=tmp_path / "none.duckdb")
    assert missing.exit_code == 3
    assert missing.output.startswith("error: there is no aion database at ")


def test_debug_flag_shows_the_traceback(invoke: Invoke) -> None:
    result = invoke("--debug", "describe", "nope")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.output
    assert result.output.endswith(
        "error: no workflow with id 'nope' in this store.\nhint: `aion list` shows the workflows in this database.\n"
    )
