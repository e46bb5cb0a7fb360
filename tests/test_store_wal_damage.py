"""A store that lost committed events is refused, never run on a shortened history.

DuckDB replays its write-ahead log up to the first damaged byte and drops the
commits after it without an error. Here a real engine is SIGKILLed after
committing 20 workflows, and copies of its files have their ``.wal`` cut,
flipped or removed: every command must refuse each copy with one line
(exit 3) naming what is missing, and leave the copy's bytes as they were.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from aion_cli.main import cli
from click.testing import CliRunner

import aion
from aion.store import Append, DuckDBStore

ROOT = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent(
    """
    import sys
    import time

    import aion


    @aion.activity
    def step(i: int, k: int) -> int:
        return i * 100 + k


    @aion.workflow
    def job(i: int):
        total = 0
        for k in range(3):
            total += yield aion.call(step, i, k)
        return total


    if __name__ == "__main__":
        engine = aion.Engine(sys.argv[1], workflows=[job], activities=[step])
        for i in range(20):
            engine.start(job, i, workflow_id=f"job-{i:02d}")
            engine.run_until_complete(f"job-{i:02d}")
        print("all committed", flush=True)
        time.sleep(120)
    """
)


def _env(folder: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{folder}",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a real engine left when SIGKILLed after committing 20 workflows."""
    folder = tmp_path_factory.mktemp("killed")
    (folder / "walwriter.py").write_text(WRITER)
    db = folder / "src.duckdb"
    proc = subprocess.Popen(
        [sys.executable, str(folder / "walwriter.py"), str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(folder),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "all committed"  # observed progress, not a sleep
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert Path(f"{db}.wal").stat().st_size > 0  # the commits are in the WAL only
    return folder


def _copy(killed: Path, name: str) -> Path:
    folder = killed / name
    folder.mkdir()
    for f in killed.glob("src.duckdb*"):
        shutil.copy(f, folder / f.name.replace("src", "copy"))
    shutil.copy(killed / "walwriter.py", folder)
    return folder / "copy.duckdb"


def _damage(db: Path, how: str) -> None:
    wal = Path(f"{db}.wal")
    size = wal.stat().st_size
    if how == "removed":
        wal.unlink()
        return
    kind, fraction = how.split("-")
    offset = int(size * int(fraction) / 100)
    with wal.open("r+b") as f:
        if kind == "cut":
            f.truncate(offset)
        else:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0xFF]))


def _snapshot(db: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in db.parent.glob(db.name + "*")}


DAMAGE = ["cut-95", "cut-60", "cut-30", "cut-5", "flip-80", "flip-20", "removed"]


def test_the_undamaged_copy_opens_whole(killed: Path) -> None:
    db = _copy(killed, "whole")
    with aion.Engine(str(db)) as engine:
        infos = engine.list()
        assert len(infos) == 20 and {i.status for i in infos} == {"completed"}


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_wal_is_refused_everywhere(killed: Path, how: str) -> None:
    db = _copy(killed, how)
    _damage(db, how)
    before = _snapshot(db)
    with pytest.raises(aion.StoreCorruptedError) as err:
        aion.Engine(str(db))
    message = str(err.value)
    assert "lost committed history" in message or "damaged" in message
    if "lost committed history" in message:
        con = duckdb.connect(str(db), read_only=True)
        whole = con.execute(
            "SELECT count(*) FROM (SELECT max(seq) AS n FROM events GROUP BY workflow_id) "
            "WHERE n = 8"
        ).fetchone()
        con.close()
        assert whole is not None
        lost = 20 - whole[0]
        assert f", {lost} workflow{'s' if lost > 1 else ''} short of" in message
    assert _snapshot(db) == before  # refused without touching the files

    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "AION_DB": None})
    for command in (["list"], ["inspect", "job-00"], ["replay", "--all", "-m", "walwriter"]):
        sys.path.insert(0, str(db.parent))
        try:
            result = runner.invoke(cli, ["--db", str(db), *command], catch_exceptions=False)
        finally:
            sys.path.remove(str(db.parent))
        assert result.exit_code == 3, (command, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr
        assert "Traceback" not in result.output
    assert _snapshot(db) == before


def test_a_real_cli_process_refuses_a_cut_wal_in_one_line(killed: Path) -> None:
    db = _copy(killed, "subprocess")
    _damage(db, "cut-50")
    for command in (["list"], ["inspect", "job-00"], ["replay", "--all", "-m", "walwriter"]):
        proc = subprocess.run(
            [sys.executable, "-m", "aion_cli", "--db", str(db), *command],
            cwd=db.parent,
            env=_env(db.parent),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 3, proc.stderr
        assert "lost committed history" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert [line for line in proc.stderr.splitlines() if line.startswith("error:")] == [
            proc.stderr.splitlines()[0]
        ]


def _events(workflow_id: str) -> list[aion.events.Event]:
    from datetime import UTC, datetime

    from aion._events import WorkflowStarted

    return [WorkflowStarted(seq=1, run_id="r", recorded_at=datetime.now(UTC), name="t", args=[])]


def test_no_false_alarm_when_a_file_is_deleted_and_created_again(tmp_path: Path) -> None:
    db = tmp_path / "again.duckdb"
    store = DuckDBStore(db)
    store.append([Append(workflow_id="w", expected_seq=0, events=_events("w"))])
    store._con.close()  # as a kill would leave it: the heads log keeps its line
    assert store._heads is not None
    store._heads.close()
    assert Path(f"{db}.aion-heads").stat().st_size > 0
    db.unlink()
    Path(f"{db}.wal").unlink(missing_ok=True)
    fresh = DuckDBStore(db)  # a new store: the old log is not its log
    try:
        assert fresh.workflows() == []
    finally:
        fresh.close()


def test_a_checkpoint_starts_the_heads_log_over(tmp_path: Path) -> None:
    db = tmp_path / "cp.duckdb"
    store = DuckDBStore(db)
    store.append([Append(workflow_id="w", expected_seq=0, events=_events("w"))])
    grown = Path(f"{db}.aion-heads").stat().st_size
    store.checkpoint()
    assert Path(f"{db}.aion-heads").stat().st_size < grown
    store.close()
    Path(f"{db}.wal").unlink(missing_ok=True)  # nothing lost: the checkpoint holds it all
    again = DuckDBStore(db, read_only=True)
    try:
        assert [i.workflow_id for i in again.workflows()] == ["w"]
    finally:
        again.close()
