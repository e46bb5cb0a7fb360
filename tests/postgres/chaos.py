"""The multi-worker chaos run: N worker processes on one PostgreSQL store, killed and paused.

``run(url, workflows=..., workers=4, ...)`` starts the worker processes
(`cluster_worker`), starts ``order`` workflows through `aion.Client` from
this process, signals them (half at once, half later, in random order),
and meanwhile a seeded chaos loop SIGKILLs workers (restarting them) and
SIGSTOPs them past their lease (then SIGCONTs them: they must find
themselves fenced and start a new session). Once every workflow has
completed, `check` verifies what the issue demands and returns the figures.

`web_app` is the other scenario: a separate process starts and signals
workflows through `aion.Client` while workers run them.

Used by the suite (small runs) and by ``nox -s chaos`` (2,000 workflows of
chaos, then 1,000 started by the web-app process):
``python -m tests.postgres.chaos [WORKFLOWS] [SEED]`` (server: ``AION_TEST_POSTGRES``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from typing import Any

import psycopg

import aion
from aion._events import SignalReceived
from aion.store._postgres_url import split_schema
from tests.postgres.cluster_flows import ACTIVITIES, WORKFLOWS, expected, order
from tests.postgres_fixture import DEFAULT_DSN


class Workers:
    """The worker processes, by slot; a killed one is restarted in its slot."""

    def __init__(self, url: str, count: int, lease: float) -> None:
        self.url, self.lease = url, lease
        self.logs: list[Any] = []  # every worker's stderr: it logs each session it loses
        self.procs: list[subprocess.Popen[str]] = [self._spawn() for _ in range(count)]
        for proc in self.procs:
            self._ready(proc)

    def _spawn(self) -> subprocess.Popen[str]:
        log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - kept open until the run is checked
        self.logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "tests.postgres.cluster_worker", self.url, str(self.lease)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )

    def sessions_lost(self) -> int:
        """How many times a worker found its session over and carried on with a new one."""
        lost = 0
        for log in self.logs:
            log.seek(0)
            lost += sum(1 for line in log if "worker session" in line and "ended" in line)
        return lost

    @staticmethod
    def _ready(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"a worker did not start (exit {proc.poll()})"

    def kill(self, slot: int) -> None:
        self.procs[slot].send_signal(signal.SIGKILL)
        self.procs[slot].wait()
        self.procs[slot] = self._spawn()
        self._ready(self.procs[slot])

    def pause(self, slot: int, seconds: float) -> None:
        proc = self.procs[slot]
        proc.send_signal(signal.SIGSTOP)
        time.sleep(seconds)
        proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _chaos(workers: Workers, rng: random.Random, stop: threading.Event, log: list[str]) -> None:
    lease = workers.lease
    turn = 0
    last = -1
    while not stop.wait(rng.uniform(0.3, 1.0) * lease):
        # Never the worker just hit: a continued one gets time to notice its lost lease.
        slot = rng.choice([s for s in range(len(workers.procs)) if s != last])
        last = slot
        turn += 1
        if turn % 2:
            workers.kill(slot)
            log.append(f"kill {slot}")
        else:
            workers.pause(slot, lease + rng.uniform(0.3, 1.0))
            log.append(f"stop {slot}")


def run(
    url: str,
    *,
    workflows: int,
    workers: int = 4,
    lease: float = 1.5,
    seed: int = 14,
    nap: float = 0.05,
    limit: float = 600.0,
) -> dict[str, Any]:
    """Run the chaos campaign and check it; returns the figures (raises on any violation)."""
    rng = random.Random(seed)
    plan = {
        f"o{i}": (i % 7 + 1, rng.choice((1, 2, 3)), rng.randrange(100)) for i in range(workflows)
    }
    client = aion.Client(url, workflows=[order])
    pool = Workers(url, workers, lease)
    log: list[str] = []
    stop = threading.Event()
    chaos = threading.Thread(target=_chaos, args=(pool, rng, stop, log), daemon=True)
    began = time.monotonic()
    chaos.start()
    try:
        late = []
        for wid, (n, rounds, bonus) in plan.items():
            client.start(order, wid, n, rounds, 0, nap, workflow_id=wid)
            if rng.random() < 0.5:
                client.signal(wid, "bonus", bonus)  # early: buffered, maybe carried over
            else:
                late.append(wid)
        rng.shuffle(late)
        for wid in late:
            client.signal(wid, "bonus", plan[wid][2])
        deadline = time.monotonic() + limit
        while len(client.list(status="completed", workflow_type="order")) < workflows:
            assert time.monotonic() < deadline, "the workflows did not all complete in time"
            time.sleep(0.2)
        elapsed = time.monotonic() - began
    finally:
        stop.set()
        chaos.join()
        time.sleep(lease)  # a worker continued just now notices its lost lease (a beat per lease/3)
        pool.stop()
    figures = check(url, plan)
    figures["sessions_lost_and_replaced"] = pool.sessions_lost()
    client.close()
    figures.update(
        workflows=workflows,
        workers=workers,
        lease=lease,
        seconds=round(elapsed, 1),
        kills=sum(1 for a in log if a.startswith("kill")),
        pauses=sum(1 for a in log if a.startswith("stop")),
    )
    return figures


def web_app(url: str, count: int, workers: int = 2, lease: float = 3.0) -> dict[str, Any]:
    """A separate process starts and signals ``count`` workflows with `aion.Client` while
    ``workers`` run them; waits for every result and checks the run like the chaos one."""
    from tests.postgres.webapp import plan

    pool = Workers(url, workers, lease)
    began = time.monotonic()
    try:
        web = subprocess.run(
            [sys.executable, "-m", "tests.postgres.webapp", url, str(count)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert web.returncode == 0, web.stderr
        sent = json.loads(web.stdout)
        assert sent == {"started": count, "signalled": count}, sent
        with aion.Client(url, workflows=[order]) as client:
            for wid, (n, rounds, bonus) in plan(count).items():
                assert client.result(wid, timeout=120) == expected(n, rounds, bonus), wid
        elapsed = time.monotonic() - began
    finally:
        pool.stop()
    figures = check(url, plan(count))
    figures.update(web_app_workflows=count, workers=workers, seconds=round(elapsed, 1))
    return figures


def check(url: str, plan: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    """Every invariant of the campaign; raises AssertionError naming the first broken one."""
    dsn, schema = split_schema(url)
    client = aion.Client(url, workflows=[order])
    replayer = aion.Replayer(WORKFLOWS, ACTIVITIES)
    with psycopg.connect(dsn) as conn:
        writers: dict[str, list[int | None]] = {}
        for wid, writer in conn.execute(
            f"SELECT workflow_id, written_by FROM {schema}.events ORDER BY workflow_id, seq"
        ):
            writers.setdefault(wid, []).append(writer)
        inbox = conn.execute(f"SELECT count(*) FROM {schema}.inbox").fetchone()
        sessions = conn.execute(f"SELECT count(*) FROM {schema}.sessions").fetchone()
    assert inbox == (0,), f"{inbox[0] if inbox else '?'} inbox messages were never consumed"
    events = 0
    takeovers = 0
    for wid, (n, rounds, bonus) in plan.items():
        for workflow_id in (wid, f"{wid}/kid"):
            history = client.history(workflow_id)
            events += len(history)
            seqs = [e.seq for e in history]
            assert seqs == list(range(1, len(seqs) + 1)), f"{workflow_id}: seqs {seqs}"
            result = replayer.replay(history, workflow_id)
            assert result.ok and result.divergence is None, f"{workflow_id}: {result}"
            owners = [w for w in writers[workflow_id] if w is not None]
            runs = [w for i, w in enumerate(owners) if i == 0 or owners[i - 1] != w]
            assert len(runs) == len(set(runs)), f"{workflow_id}: a fenced owner wrote: {runs}"
            takeovers += len(runs) - 1
        assert client.result(wid) == expected(n, rounds, bonus), wid
        received = Counter(
            e.name for e in client.history(wid) if isinstance(e, SignalReceived) and not e.carried
        )
        assert received == {"bonus": 1, "thanks": 1}, f"{wid}: signals {dict(received)}"
    return {
        "events": events,
        "handovers": takeovers,
        "sessions_left": sessions[0] if sessions else 0,
    }


def main() -> None:
    """``python -m tests.postgres.chaos [WORKFLOWS] [SEED]`` on a fresh schema (dropped after)."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 14
    dsn = os.environ.get("AION_TEST_POSTGRES", DEFAULT_DSN)
    schemas = [f"chaos_{uuid.uuid4().hex[:8]}", f"webapp_{uuid.uuid4().hex[:8]}"]
    try:
        figures = run(f"{dsn}?aion_schema={schemas[0]}", workflows=count, seed=seed)
        figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
        figures["cpus"] = os.cpu_count()
        print("chaos", json.dumps(figures), flush=True)
        web = web_app(f"{dsn}?aion_schema={schemas[1]}", 1000)
        web["load_average"] = [round(x, 2) for x in os.getloadavg()]
        print("web app", json.dumps(web), flush=True)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
