"""The code is found by itself: `WorkflowStarted` records ``module:qualname``, tools import it.

The recorded name is looked up on the import path only; ``-m`` overrides it;
a name that is not dotted identifiers plus ``:qualname`` is refused in one
line; old histories without it still work with ``-m``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from aion_cli.main import cli
from click.testing import CliRunner, Result

import aion
from tests.cli.conftest import CHANGED, SAMPLE, WIDTH, Invoke, run_aion

NOTE = f"importing module {SAMPLE!r}"


def first_start(invoke: Invoke, workflow_id: str) -> dict[str, Any]:
    events = json.loads(invoke("inspect", workflow_id, "--json").stdout)["events"]
    start: dict[str, Any] = events[0]
    return start


def test_the_engine_records_the_workflows_import_name(invoke: Invoke) -> None:
    assert first_start(invoke, "order-1")["code"] == f"{SAMPLE}:order"
    assert first_start(invoke, "appr-1")["code"] == f"{SAMPLE}:approval"


def test_a_start_recorded_by_the_cli_names_the_code_too(invoke: Invoke) -> None:
    assert invoke("start", f"{SAMPLE}:quick", "3", "--id", "q-1").exit_code == 0
    assert first_start(invoke, "q-1")["code"] == f"{SAMPLE}:quick"


def test_replay_an_id_without_m_says_which_module_it_imports(invoke: Invoke) -> None:
    result = invoke("replay", "order-1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok order-1: completed after 6 events\n"
    assert result.stderr == (f"{NOTE} (recorded in the history of 'order-1'; -m overrides)\n")


def test_replay_all_without_m_imports_each_module_once(invoke: Invoke) -> None:
    result = invoke("replay", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] == 3
    assert result.stderr.count("importing module") == 1


def test_minus_m_overrides_the_recorded_name(invoke: Invoke) -> None:
    result = invoke("replay", "order-1", "-m", CHANGED)
    assert result.exit_code == 1
    assert "importing module" not in result.output


def test_debug_and_offline_query_find_the_code(invoke: Invoke) -> None:
    debugged = invoke("debug", "order-1", "--until", "4", "--show", "locals")
    assert debugged.exit_code == 0, debugged.output
    assert "receipt" in debugged.stdout
    queried = invoke("query", "appr-1", "stage")
    assert (queried.exit_code, queried.stdout) == (0, '"awaiting approval"\n')
    assert NOTE in queried.stderr


def test_an_exported_fixture_names_its_module_and_replays_alone(
    invoke: Invoke, tmp_path: Path
) -> None:
    out = tmp_path / "order-1.json"
    assert invoke("export", "order-1", "-o", str(out)).exit_code == 0
    data = json.loads(out.read_text())
    assert data["module"] == SAMPLE
    assert data["events"][0]["code"] == f"{SAMPLE}:order"
    del data["module"]  # the events' own record is enough
    out.write_text(json.dumps(data))
    result = invoke("replay", str(out))
    assert result.exit_code == 0, result.output
    assert NOTE in result.stderr


def _with_code(invoke: Invoke, tmp_path: Path, code: str | None) -> Path:
    data = json.loads(invoke("inspect", "order-1", "--json").stdout)
    data.pop("module", None)
    data["events"][0]["code"] = code
    path = tmp_path / "f.json"
    path.write_text(json.dumps(data))
    return path


def test_an_old_history_without_the_name_needs_m(invoke: Invoke, tmp_path: Path) -> None:
    path = _with_code(invoke, tmp_path, None)
    alone = invoke("replay", str(path))
    assert alone.exit_code == 2
    assert alone.stderr.splitlines()[0] == (
        "error: replay needs the workflow code, and none was found."
    )
    assert invoke("replay", str(path), "-m", SAMPLE).exit_code == 0


def _in(folder: Path, *args: str, **env: str | None) -> Result:
    runner = CliRunner(
        env={"NO_COLOR": "1", "COLUMNS": str(WIDTH), "AION_PATH": None, "PYTHONPATH": None, **env}
    )
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return runner.invoke(cli, ["--db", str(folder / "x.duckdb"), *args])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize(
    "code", ["evil.py:order", "/tmp/evil.py:order", "../evil:order", "evil", "evil:", "a b:c"]
)
def test_a_recorded_name_that_is_not_module_qualname_is_refused(
    invoke: Invoke, tmp_path: Path, code: str
) -> None:
    path = _with_code(invoke, tmp_path, code)
    marker = tmp_path / "pwned"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    for command in (["replay", str(path)], ["debug", str(path), "--until", "2"]):
        result = _in(tmp_path, *command)
        assert result.exit_code == 2, result.output
        assert "a recorded code name must be module:qualname" in result.stderr
        assert len(result.stderr.splitlines()) == 2  # the error line and its hint
        assert "Traceback" not in result.output
    assert not marker.exists()


def test_a_recorded_module_in_the_current_directory_needs_path(
    invoke: Invoke, tmp_path: Path
) -> None:
    path = _with_code(invoke, tmp_path, "here_flows:order")
    (tmp_path / "here_flows.py").write_text(f"from {SAMPLE} import *  # noqa\n")
    refused = _in(tmp_path, "replay", str(path))
    assert refused.exit_code == 2
    assert "cannot import module 'here_flows'" in refused.stderr
    assert "--path DIR" in refused.stderr
    try:
        allowed = _in(tmp_path, "replay", str(path), "--path", ".")
        assert allowed.exit_code == 0, allowed.output
        assert "importing module 'here_flows'" in allowed.stderr
    finally:
        sys.modules.pop("here_flows", None)


def test_subprocess_replay_and_query_without_m(fixed_db: Path) -> None:
    replayed = run_aion("--db", str(fixed_db), "replay", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert f"{NOTE} (recorded in the database's histories; -m overrides)" in replayed.stderr
    queried = run_aion("query", "appr-1", "stage", "--db", str(fixed_db))
    assert (queried.returncode, queried.stdout) == (0, '"awaiting approval"\n')


def test_a_child_is_replayed_with_the_code_its_parent_records(
    invoke: Invoke, tmp_path: Path
) -> None:
    from tests.cli import group_workflows as g
    from tests.cli import sample_workflows as s

    db = tmp_path / "kids.duckdb"
    engine = aion.Engine(
        str(db), workflows=[g.parent_of_child, g.child_double], activities=[s.double]
    )
    try:
        engine.start(g.parent_of_child, 4, workflow_id="p")
        assert engine.run_until_complete("p") == 8
    finally:
        engine.close()
    child_start = json.loads(invoke("inspect", "child-of-p", "--json", db=db).stdout)["events"][0]
    assert child_start["code"] == "tests.cli.group_workflows:child_double"
    assert child_start["parent_id"] == "p"
    # A child recorded before children named their own code: its parent's is used.
    old = tmp_path / "old-kids.duckdb"
    for workflow_id in ("p", "child-of-p"):
        data = json.loads(invoke("inspect", workflow_id, "--json", db=db).stdout)
        if workflow_id == "child-of-p":
            data["events"][0]["code"] = None
        data.pop("module", None)
        path = tmp_path / f"{workflow_id}.json"
        path.write_text(json.dumps(data))
        assert invoke("import", str(path), db=old).exit_code == 0
    result = invoke("replay", "child-of-p", db=old)
    assert result.exit_code == 0, result.output
    assert "importing module 'tests.cli.group_workflows'" in result.stderr
    own = invoke("replay", "child-of-p", db=db)  # today's record names the child's own code
    assert own.exit_code == 0, own.output
