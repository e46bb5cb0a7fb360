"""The SIGKILL crash campaign: kill a real worker at random moments, restart, check.

Each round drops requests (workflow starts, signals) for the worker, starts
``tests.crash.worker`` on the DuckDB file, kills it with SIGKILL after a
random delay, and then, with no process holding the file, checks:

* the database opens (raw DuckDB read-only, and as an aion store);
* every workflow's history is append-only: what a previous round saw is a
  byte-identical prefix of what this round sees;
* seqs are 1..n per workflow: none duplicated, none missing;
* no activity whose completion was recorded ran again in a later process
  (and no attempt ran twice within one process);
* no accepted signal was recorded twice;
* nothing was recorded in a run after that run's end (completed, failed,
  cancelled or continued as new).

After the last kill a worker runs to the end without interruption; then every
accepted signal must have been consumed exactly once and every workflow must
end with the result of a crash-free run of the same schedule (computed here,
in-process, on a fresh file). Seeded and reproducible in what it schedules:
the kill delays and the workload come from ``--seed``.

Usage: python -m tests.crash.campaign --kills 300 --seed 7 [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

import aion
from tests.crash import workload

ROOT = Path(__file__).resolve().parents[2]
#: The events that end a run: nothing may follow one with the same run id.
RUN_ENDS = frozenset(
    {"WorkflowCompleted", "WorkflowFailed", "WorkflowCancelled", "WorkflowContinuedAsNew"}
)
TERMINAL = ("completed", "failed", "cancelled")
ROW_SQL = (
    "SELECT workflow_id, seq, run_id, kind, ordinal, name, payload::VARCHAR, "
    "recorded_at::VARCHAR, source, digest FROM events ORDER BY workflow_id, seq"
)


@dataclass
class Report:
    """What the campaign did and saw; ``violations`` must stay empty."""

    seed: int
    kills: int = 0
    kills_after_ready: int = 0
    recoveries: int = 0
    recovered_workflows: int = 0
    waves: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The campaign's closing lines."""
        lines = [
            f"crash campaign seed={self.seed}: {self.kills} SIGKILLs "
            f"({self.kills_after_ready} after recovery finished), {self.recoveries} recoveries "
            f"of {self.recovered_workflows} running workflows, {self.waves} waves",
        ]
        lines += [f"  {name}: {count}" for name, count in sorted(self.counts.items())]
        lines.append(f"  violations: {len(self.violations)}")
        lines += [f"    {v}" for v in self.violations[:20]]
        return "\n".join(lines)


class Campaign:
    """One campaign in one folder: the DB file, the drop folder and the logs."""

    def __init__(self, folder: Path, seed: int, delays: tuple[float, float] = (0.2, 1.6)) -> None:
        self.folder = folder
        self.db = str(folder / "campaign.duckdb")
        self.rng = random.Random(seed)
        self.delays = delays
        self.report = Report(seed)
        (folder / "drop").mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.completed_in: dict[str, int] = {}  # activity key -> incarnation that recorded it
        self.exec_offset = 0
        self.executions: Counter[tuple[int, str, int]] = Counter()
        self.incarnation = 0
        self.drops = 0
        self.starts: dict[str, dict[str, Any]] = {}
        self.signals: list[dict[str, Any]] = []
        self.open_waves: list[list[str]] = []

    # --- the schedule ------------------------------------------------------------

    def _drop(self, request: dict[str, Any]) -> None:
        self.drops += 1
        path = self.folder / "drop" / f"{self.drops:08d}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(request))
        tmp.rename(path)

    def _add_wave(self) -> None:
        starts, signals = workload.wave(self.report.waves, self.report.seed)
        self.report.waves += 1
        for start in starts:
            self.starts[start["id"]] = start
            self._drop({"op": "start", **start})
        for sig in signals:
            self.signals.append(sig)
            self._drop({"op": "signal", **sig})
        self.open_waves.append([s["id"] for s in starts])

    def _feed(self, statuses: dict[str, str]) -> None:
        """Keep three waves in flight: a new one once an older one has finished."""
        self.open_waves = [
            ids
            for ids in self.open_waves
            if not all(statuses.get(i) in ("completed", "failed", "cancelled") for i in ids)
        ]
        while len(self.open_waves) < 3:
            self._add_wave()

    # --- one round -----------------------------------------------------------------

    def _spawn(self, drain: bool = False) -> subprocess.Popen[bytes]:
        self.incarnation += 1
        argv = [sys.executable, "-m", "tests.crash.worker", self.db, str(self.folder)]
        argv.append(str(self.incarnation))
        if drain:
            argv.append("--drain")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        stderr = (self.folder / "worker.err").open("ab")
        return subprocess.Popen(argv, cwd=ROOT, env=env, stderr=stderr)

    def round(self, *, after_progress: bool = False) -> None:
        """Start a worker, SIGKILL it at a random moment, and check the file.

        The delay is counted from a line the worker writes, not from the spawn
        (interpreter start-up and recovery under load would otherwise eat the
        window): from ``spawned`` (imports done) in half the rounds, so kills
        land during recovery, and from ``ready`` (recovery done) in the others,
        so they land in live work. With ``after_progress``, the delay starts once
        the worker has run an activity (so a start is committed).
        """
        statuses = self.check()
        self._feed(statuses)
        delay = self.rng.uniform(*self.delays)
        anchor = self.rng.choice(("spawned", "ready"))
        exec_log = self.folder / "exec.log"
        executed = exec_log.stat().st_size if exec_log.exists() else 0
        proc = self._spawn()
        if not self._wait_for(proc, lambda: self._status_says(anchor)):
            proc.kill()
            proc.wait()
            self.report.violations.append(
                f"worker {self.incarnation} never said {anchor!r} "
                f"(see {self.folder / 'worker.err'})"
            )
            self._read_status()
            return
        if after_progress:
            ready = self._wait_for(
                proc, lambda: exec_log.exists() and exec_log.stat().st_size > executed
            )
            delay = delay if ready else -1.0  # then the usual random delay
        if delay >= 0:
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                self.report.kills += 1
                self._read_status()
                return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self.report.violations.append(
            f"worker {self.incarnation} exited by itself with {proc.returncode}, or made no "
            f"progress (see {self.folder / 'worker.err'})"
        )
        self._read_status()

    def _status_says(self, what: str) -> bool:
        path = self.folder / "status.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return any(line.split()[:2] == [str(self.incarnation), what] for line in lines)

    def _wait_for(self, proc: subprocess.Popen[bytes], seen: Any, timeout: float = 120.0) -> bool:
        """Poll until ``seen()`` (True) or the worker exits or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        while not seen():
            if proc.poll() is not None or time.monotonic() > deadline:
                return bool(seen())
            time.sleep(0.005)
        return True

    def _read_status(self) -> None:
        path = self.folder / "status.log"
        lines = path.read_text().splitlines() if path.exists() else []  # killed before it wrote
        for line in lines:
            number, what, *rest = line.split()
            if int(number) != self.incarnation or what != "ready":
                continue
            self.report.kills_after_ready += 1
            recovered = int(rest[0].split("=")[1])
            if recovered:
                self.report.recoveries += 1
                self.report.recovered_workflows += recovered

    def finish(self, timeout: float = 300.0) -> dict[str, Any]:
        """Run a worker to the end of the schedule; return every workflow's result."""
        self.check()
        proc = self._spawn(drain=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.report.violations.append(f"the final worker did not finish in {timeout}s")
            code = None
        if code not in (0, None):
            self.report.violations.append(f"the final worker exited with {code}")
        self.check()
        return self._results()

    # --- invariants ------------------------------------------------------------------

    def check(self) -> dict[str, str]:
        """Check the file after a kill; returns each workflow's status."""
        count = self.report.counts
        if not Path(self.db).exists():
            return {}
        try:
            con = duckdb.connect(self.db, read_only=True)
            tables = {
                r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
            rows = con.execute(ROW_SQL).fetchall() if "events" in tables else []
            con.close()
            # aion's own open also checks the heads log: no committed event was lost.
            aion.DuckDBStore(self.db, read_only=True).close()
            count["db opened after a kill"] += 1
        except Exception as exc:  # the one thing that must never happen
            self.report.violations.append(f"round {self.incarnation}: the DB did not open: {exc}")
            return {}
        if "events" not in tables:
            count["files with no schema yet, taken as empty"] += 1
        current: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            current.setdefault(row[0], []).append(row)
        for workflow_id, history in current.items():
            seqs = [r[1] for r in history]
            count["histories checked for seq 1..n"] += 1
            if seqs != list(range(1, len(seqs) + 1)):
                self.report.violations.append(f"{workflow_id}: seqs are not 1..n: {seqs}")
            before = self.rows.get(workflow_id, [])
            count["histories checked append-only"] += 1
            count["events checked byte-identical"] += len(before)
            if history[: len(before)] != before:
                self.report.violations.append(f"{workflow_id}: recorded events changed or vanished")
            self._check_run_ends(workflow_id, history)
        for workflow_id in self.rows.keys() - current.keys():
            self.report.violations.append(f"{workflow_id}: its history vanished")
        self.rows = current
        self._check_activities(rows)
        self._check_signals(rows)
        statuses = {}
        for workflow_id, history in current.items():
            kinds = [r[3] for r in history]
            statuses[workflow_id] = (
                "completed" if kinds[-1] == "WorkflowCompleted" else kinds[-1].lower()
            )
        return statuses

    def _check_run_ends(self, workflow_id: str, history: list[tuple[Any, ...]]) -> None:
        """No event of a run comes after that run's terminal event."""
        ended: dict[str, int] = {}
        for row in history:
            seq, run_id, kind = row[1], row[2], row[3]
            if run_id in ended:
                self.report.violations.append(
                    f"{workflow_id}: {kind} at seq {seq} was recorded in run {run_id} "
                    f"after its end at seq {ended[run_id]}"
                )
            elif kind in RUN_ENDS:
                ended[run_id] = seq
        self.report.counts["runs checked closed after their end"] += len(ended)

    def _check_activities(self, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            if row[3] == "ActivityCompleted":
                key = f"{row[0]}:{row[2]}:{row[4]}"
                self.completed_in.setdefault(key, self.incarnation)
        path = self.folder / "exec.log"
        if not path.exists():
            return
        with path.open("rb") as f:
            f.seek(self.exec_offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.exec_offset += end
        for line in data[:end].decode().splitlines():
            incarnation, key, attempt = line.split()
            self.report.counts["activity executions checked"] += 1
            recorded_in = self.completed_in.get(key)
            if recorded_in is not None and int(incarnation) > recorded_in:
                self.report.violations.append(
                    f"activity {key} ran again in worker {incarnation} although its completion "
                    f"was recorded by worker {recorded_in}"
                )
            ident = (int(incarnation), key, int(attempt))
            self.executions[ident] += 1
            if self.executions[ident] > 1:
                self.report.violations.append(
                    f"activity {key} attempt {attempt} ran twice in one worker"
                )
        self.report.counts["completed activities guarded"] = len(self.completed_in)

    def _check_signals(self, rows: list[tuple[Any, ...]]) -> None:
        received: Counter[tuple[str, int]] = Counter()
        for row in rows:
            if row[3] == "SignalReceived":
                payload = json.loads(row[6])
                if not payload.get("carried") and isinstance(payload.get("payload"), dict):
                    received[(row[0], payload["payload"]["sid"])] += 1
        for key, n in received.items():
            if n > 1:
                self.report.violations.append(f"signal {key} was recorded {n} times")
        self.report.counts["signal records checked unique"] = len(received)

    def _accepted(self) -> Counter[tuple[str, int]]:
        path = self.folder / "accepted.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return Counter((w, int(s)) for w, s in (line.split() for line in lines))

    def _results(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for workflow_id, history in self.rows.items():
            last = history[-1]
            payload = json.loads(last[6]) if last[6] else {}
            results[workflow_id] = (last[3], _outcome(payload.get("result")))
        return results


def _outcome(value: Any) -> Any:
    """A result in a comparable form (JSON text with sorted keys)."""
    return json.dumps(value, sort_keys=True)


def reference_results(campaign: Campaign, folder: Path) -> dict[str, Any]:
    """Run the same schedule crash-free, in this process, on a fresh file."""
    workload.configure(str(folder / "reference-exec.log"), 0)
    engine = aion.Engine(
        str(folder / "reference.duckdb"),
        workflows=workload.WORKFLOWS,
        activities=workload.ACTIVITIES,
    )
    stop = threading.Event()
    server = threading.Thread(target=engine.serve, args=(stop,))
    server.start()
    try:
        handles = [
            engine.start(s["workflow"], *s["args"], workflow_id=s["id"])
            for s in campaign.starts.values()
        ]
        for sig in campaign.signals:
            engine.signal(sig["id"], sig["name"], sig["payload"])
        for handle in handles:
            handle.result(timeout=300)
        # Children a parent's end cancelled may still be compensating: wait for all.
        deadline = time.monotonic() + 300
        while any(i.status not in TERMINAL for i in engine.list()):
            if time.monotonic() > deadline:
                raise TimeoutError("the crash-free reference run did not finish")
            time.sleep(0.02)
        out: dict[str, Any] = {}
        for info in engine.list():
            last = engine.history(info.workflow_id)[-1]
            out[info.workflow_id] = (type(last).__name__, _outcome(getattr(last, "result", None)))
        return out
    finally:
        stop.set()
        server.join()
        engine.close()


def run(kills: int, seed: int, folder: Path, delays: tuple[float, float] = (0.2, 1.6)) -> Report:
    """Run a whole campaign and return its report."""
    campaign = Campaign(folder, seed, delays)
    started = time.monotonic()
    while campaign.report.kills < kills and len(campaign.report.violations) < 20:
        campaign.round()
    final = campaign.finish()
    report = campaign.report
    accepted = campaign._accepted()
    sent = Counter((s["id"], s["payload"]["sid"]) for s in campaign.signals)
    for key in sent:
        report.counts["signals accepted"] += 1
        if key not in accepted:
            report.violations.append(f"signal {key} was never accepted")
    reference = reference_results(campaign, folder)
    for workflow_id, expected in reference.items():
        report.counts["results compared with a crash-free run"] += 1
        got = final.get(workflow_id)
        if got != expected:
            report.violations.append(f"{workflow_id}: ended {got}, crash-free run ended {expected}")
        if workflow_id.endswith("-coll"):
            consumed = Counter(json.loads(got[1]) if got and got[1] else [])
            for (target, sid), _ in sent.items():
                if target == workflow_id:
                    report.counts["signals consumed exactly once"] += consumed[sid] == 1
                    if consumed[sid] != 1:
                        report.violations.append(f"signal {sid} consumed {consumed[sid]} times")
    report.counts["seconds"] = round(time.monotonic() - started)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: run a campaign, print its summary, exit 1 on any violation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="keep the files here")
    args = parser.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="aion-crash-"))
    folder.mkdir(parents=True, exist_ok=True)
    report = run(args.kills, args.seed, folder)
    print(report.summary())
    print(f"  files: {folder}")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
