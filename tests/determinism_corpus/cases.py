# ruff: noqa: DTZ003, DTZ005, DTZ011, SIM105, E722
"""The corpus: for each class of nondeterminism, a buggy workflow and its fix.

Each buggy workflow does what real code does by mistake (reads the clock, the
environment, a directory; iterates a set; keeps state between runs; starts
threads; swallows cancellation); its fix does the same job deterministically.
They live at module level so the kit can replay them under other hash seeds.
"""

from __future__ import annotations

import functools
import glob
import itertools
import os
import random
import secrets
import threading
import time
import uuid
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

import aion

W = Generator[Any, Any, Any]
HERE = Path(__file__).parent
NAMES = {"ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal"}
PAIR = {"left", "right"}


@aion.activity
def greet(name: str) -> str:
    return f"hello {name}"


@aion.activity
def listing() -> list[str]:
    return sorted(p.name for p in HERE.glob("*.py"))


@aion.activity
def setting(name: str) -> str:
    return os.environ.get(name, "unset")


@aion.activity
def ready() -> bool:
    return False  # what a poll sees until its deadline


@aion.activity
def stamp() -> float:
    return time.time()  # impure, as real activities are: the kit must not mind


# --- clock --------------------------------------------------------------------------


@aion.workflow
def clock_branch_bad() -> W:
    if datetime.now().hour < 12:
        return (yield aion.call(greet, "morning"))
    return (yield aion.call(greet, "afternoon"))


@aion.workflow
def clock_branch_good() -> W:
    if (yield aion.now()).hour < 12:
        return (yield aion.call(greet, "morning"))
    return (yield aion.call(greet, "afternoon"))


@aion.workflow
def clock_arg_bad() -> W:
    return (yield aion.call(greet, f"at {time.time():.0f}"))


@aion.workflow
def clock_arg_good() -> W:
    return (yield aion.call(greet, f"at {(yield aion.now()).timestamp():.0f}"))


@aion.workflow
def utcnow_bad() -> W:
    return (yield aion.call(greet, datetime.utcnow().isoformat()))


@aion.workflow
def utcnow_good() -> W:
    return (yield aion.call(greet, (yield aion.now()).isoformat()))


@aion.workflow
def today_bad() -> W:
    return (yield aion.call(greet, date.today().isoformat()))


@aion.workflow
def today_good() -> W:
    return (yield aion.call(greet, (yield aion.now()).date().isoformat()))


# --- monotonic deadlines -------------------------------------------------------------


@aion.workflow
def monotonic_loop_bad() -> W:
    deadline = time.monotonic() + 3600
    out = []
    while time.monotonic() < deadline and len(out) < 2:
        out.append((yield aion.call(greet, str(len(out)))))
    return out


@aion.workflow
def monotonic_loop_good() -> W:
    deadline = (yield aion.now()) + timedelta(hours=1)
    out = []
    while (yield aion.now()) < deadline and len(out) < 2:
        out.append((yield aion.call(greet, str(len(out)))))
    return out


@aion.workflow
def monotonic_poll_bad() -> W:
    deadline = time.monotonic() + 300  # virtual time never reaches it: it polls forever
    while time.monotonic() < deadline:
        if (yield aion.call(ready)):
            return "ready"
        yield aion.sleep(60)
    return "gave up"


@aion.workflow
def monotonic_poll_good() -> W:
    deadline = (yield aion.now()) + timedelta(seconds=300)
    while (yield aion.now()) < deadline:
        if (yield aion.call(ready)):
            return "ready"
        yield aion.sleep(60)
    return "gave up"


@aion.workflow
def perf_counter_bad() -> W:
    t0 = time.perf_counter()
    first = yield aion.call(greet, "a")
    if time.perf_counter() - t0 > 60:
        return first
    return (yield aion.call(greet, "b"))


@aion.workflow
def perf_counter_good() -> W:
    t0 = yield aion.now()
    first = yield aion.call(greet, "a")
    if ((yield aion.now()) - t0).total_seconds() > 60:
        return first
    return (yield aion.call(greet, "b"))


# --- environment ---------------------------------------------------------------------


@aion.workflow
def environ_get_bad() -> W:
    return (yield aion.call(greet, os.environ.get("REGION", "eu")))


@aion.workflow
def environ_get_good() -> W:
    return (yield aion.call(greet, (yield aion.call(setting, "REGION"))))


@aion.workflow
def environ_in_bad() -> W:
    if "AION_CORPUS_DEBUG" in os.environ:
        yield aion.call(greet, "debug")
    return (yield aion.call(greet, "done"))


@aion.workflow
def environ_in_good(debug: bool = False) -> W:
    if debug:
        yield aion.call(greet, "debug")
    return (yield aion.call(greet, "done"))


@aion.workflow
def getenv_bad() -> W:
    return (yield aion.call(greet, os.getenv("HOME") or "nobody"))


@aion.workflow
def getenv_good() -> W:
    return (yield aion.call(greet, (yield aion.call(setting, "HOME"))))


# --- files and directory listings ----------------------------------------------------


def _config() -> str:
    return (HERE / "__init__.py").read_text()[:10]


@aion.workflow
def file_read_bad() -> W:
    return (yield aion.call(greet, _config()))


@aion.workflow
def file_read_good() -> W:
    return (yield aion.call(greet, (yield aion.call(listing))[0]))


@aion.workflow
def file_exists_bad() -> W:
    if (HERE / "cases.py").exists():
        return (yield aion.call(greet, "found"))
    return (yield aion.call(greet, "missing"))


@aion.workflow
def file_exists_good() -> W:
    if "cases.py" in (yield aion.call(listing)):
        return (yield aion.call(greet, "found"))
    return (yield aion.call(greet, "missing"))


@aion.workflow
def glob_order_bad() -> W:
    out = []
    for path in glob.glob(str(HERE / "*.py")):
        out.append((yield aion.call(greet, os.path.basename(path))))
    return out


@aion.workflow
def glob_order_good() -> W:
    out = []
    for name in (yield aion.call(listing)):
        out.append((yield aion.call(greet, name)))
    return out


@aion.workflow
def listdir_bad() -> W:
    first = os.listdir(HERE)[0]
    return (yield aion.call(greet, first))


@aion.workflow
def listdir_good() -> W:
    return (yield aion.call(greet, (yield aion.call(listing))[0]))


# --- hash order ----------------------------------------------------------------------


@aion.workflow
def set_order_bad() -> W:
    out = []
    for name in NAMES:
        out.append((yield aion.call(greet, name)))
    return out


@aion.workflow
def set_order_good() -> W:
    out = []
    for name in sorted(NAMES):
        out.append((yield aion.call(greet, name)))
    return out


@aion.workflow
def two_element_set_bad() -> W:
    out = []
    for side in PAIR:
        out.append((yield aion.call(greet, side)))
    return out


@aion.workflow
def two_element_set_good() -> W:
    out = []
    for side in sorted(PAIR):
        out.append((yield aion.call(greet, side)))
    return out


@aion.workflow
def set_first_bad(items: list[str]) -> W:
    return (yield aion.call(greet, next(iter(set(items)))))


@aion.workflow
def set_first_good(items: list[str]) -> W:
    return (yield aion.call(greet, min(set(items))))


@attrs.define(eq=False)
class Job:
    name: str


@aion.workflow
def id_order_bad() -> W:
    jobs = [Job("b"), Job("a"), Job("c")]
    out = []
    for job in sorted(jobs, key=id):
        out.append((yield aion.call(greet, job.name)))
    return out


@aion.workflow
def id_order_good() -> W:
    jobs = [Job("b"), Job("a"), Job("c")]
    out = []
    for job in sorted(jobs, key=lambda j: j.name):
        out.append((yield aion.call(greet, job.name)))
    return out


@aion.workflow
def hash_order_bad() -> W:
    out = []
    for name in sorted(["ada", "bob", "cy"], key=hash):
        out.append((yield aion.call(greet, name)))
    return out


@aion.workflow
def hash_order_good() -> W:
    out = []
    for name in sorted(["ada", "bob", "cy"]):
        out.append((yield aion.call(greet, name)))
    return out


# --- state kept between runs: globals, caches, mutated shared results ----------------

RUNS: list[int] = []
COUNTER = itertools.count()
CACHE: dict[str, str] = {}
DEFAULTS = {"greetings": 3}
FROZEN_DEFAULTS = MappingProxyType({"greetings": 3})  # read-only: no run can change it


@aion.workflow
def global_counter_bad() -> W:
    RUNS.append(1)
    if len(RUNS) % 2:
        return (yield aion.call(greet, "odd"))
    return (yield aion.call(greet, "even"))


@aion.workflow
def global_counter_good(runs: int = 1) -> W:
    if runs % 2:
        return (yield aion.call(greet, "odd"))
    return (yield aion.call(greet, "even"))


@aion.workflow
def global_iterator_bad() -> W:
    return (yield aion.call(greet, f"ticket {next(COUNTER)}"))


@aion.workflow
def global_iterator_good() -> W:
    return (yield aion.call(greet, f"ticket {(yield aion.random()):.3f}"))


@aion.workflow
def cache_bad(name: str = "ada") -> W:
    if name not in CACHE:
        CACHE[name] = yield aion.call(greet, name)
    return (yield aion.call(greet, CACHE[name]))


@aion.workflow
def cache_good(name: str = "ada") -> W:
    cache: dict[str, str] = {}
    if name not in cache:
        cache[name] = yield aion.call(greet, name)
    return (yield aion.call(greet, cache[name]))


@functools.lru_cache
def _runs_so_far() -> list[int]:
    return []


@aion.workflow
def lru_cache_bad() -> W:
    runs = _runs_so_far()  # the same list for every run in this process
    cold = not runs
    runs.append(1)
    return (yield aion.call(greet, "cold start" if cold else "warm start"))


@aion.workflow
def lru_cache_good() -> W:
    return (yield aion.call(greet, "cold start"))


@aion.workflow
def mutated_defaults_bad() -> W:
    settings = DEFAULTS  # not a copy: every run changes the module's dict
    settings["greetings"] = settings["greetings"] % 3 + 1
    out = []
    for _ in range(settings["greetings"]):
        out.append((yield aion.call(greet, "n")))
    return out


@aion.workflow
def mutated_defaults_good() -> W:
    settings = dict(FROZEN_DEFAULTS)
    settings["greetings"] = settings["greetings"] % 3 + 1
    out = []
    for _ in range(settings["greetings"]):
        out.append((yield aion.call(greet, "n")))
    return out


SEEN: list[str] = []


@aion.workflow
def mutated_result_bad() -> W:
    names = yield aion.call(listing)
    SEEN.extend(names)  # the result escapes into module state ...
    if len(SEEN) > len(names):  # ... and a later run branches on it
        return (yield aion.call(greet, "again"))
    return (yield aion.call(greet, "first"))


@aion.workflow
def mutated_result_good() -> W:
    names = yield aion.call(listing)
    seen = list(names)
    if len(seen) > len(names):
        return (yield aion.call(greet, "again"))
    return (yield aion.call(greet, "first"))


# --- threads and pools ---------------------------------------------------------------


def _fill(box: dict[str, bool]) -> None:
    box["fast"] = True


@aion.workflow
def thread_bad() -> W:
    box: dict[str, bool] = {}
    threading.Thread(target=_fill, args=(box,)).start()
    yield aion.call(greet, "first")
    if box.get("fast"):
        return (yield aion.call(greet, "fast path"))
    return (yield aion.call(greet, "slow path"))


@aion.workflow
def thread_good() -> W:
    yield aion.call(greet, "first")
    return (yield aion.call(greet, "fast path"))


@aion.workflow
def daemon_thread_bad() -> W:
    box: dict[str, bool] = {}
    threading.Thread(target=_fill, args=(box,), daemon=True).start()
    yield aion.call(greet, "first")
    return (yield aion.call(greet, "fast" if box else "slow"))


@aion.workflow
def daemon_thread_good() -> W:
    yield aion.call(greet, "first")
    return (yield aion.call(greet, "fast"))


@aion.workflow
def new_pool_bad() -> W:
    with ThreadPoolExecutor(max_workers=1) as pool:
        word = pool.submit(str.upper, "ada").result()
    return (yield aion.call(greet, word))


@aion.workflow
def new_pool_good() -> W:
    return (yield aion.call(greet, "ADA"))


POOL = ThreadPoolExecutor(max_workers=1)
POOL.submit(int).result()  # its worker is up and idle before any workflow runs


@aion.workflow
def idle_pool_bad() -> W:
    future = POOL.submit(str.upper, "bob")
    yield aion.call(greet, "first")
    return (yield aion.call(greet, future.result()))


@aion.workflow
def idle_pool_good() -> W:
    yield aion.call(greet, "first")
    return (yield aion.call(greet, "BOB"))


# --- cancellation --------------------------------------------------------------------


@aion.workflow
def swallow_cancel_bad() -> W:
    try:
        return (yield aion.call(greet, "slow"))
    except Exception:
        return "gave up"


@aion.workflow
def swallow_cancel_good() -> W:
    try:
        return (yield aion.call(greet, "slow"))
    except aion.Cancelled:
        raise
    except Exception:
        return "gave up"


@aion.workflow
def bare_except_bad() -> W:
    try:
        yield aion.sleep(3600)
    except:
        pass
    return (yield aion.call(greet, "after"))


@aion.workflow
def bare_except_good() -> W:
    try:
        yield aion.sleep(3600)
    except aion.Cancelled:
        yield aion.call(greet, "cleanup")
        raise
    return (yield aion.call(greet, "after"))


# --- randomness ----------------------------------------------------------------------


@aion.workflow
def random_branch_bad() -> W:
    if random.random() < 0.01:  # rare: taken about once in a hundred runs
        return (yield aion.call(greet, "rare"))
    return (yield aion.call(greet, "usual"))


@aion.workflow
def random_branch_good() -> W:
    if (yield aion.random()) < 0.01:
        return (yield aion.call(greet, "rare"))
    return (yield aion.call(greet, "usual"))


@aion.workflow
def random_choice_bad() -> W:
    return (yield aion.call(greet, random.choice(["ada", "bob"])))


@aion.workflow
def random_choice_good() -> W:
    return (yield aion.call(greet, ["ada", "bob"][int((yield aion.random()) * 2)]))


@aion.workflow
def uuid_bad() -> W:
    return (yield aion.call(greet, str(uuid.uuid4())))


@aion.workflow
def uuid_good() -> W:
    return (yield aion.call(greet, str((yield aion.uuid4()))))


@aion.workflow
def secrets_bad() -> W:
    return (yield aion.call(greet, secrets.token_hex(4)))


@aion.workflow
def secrets_good() -> W:
    return (yield aion.call(greet, str((yield aion.uuid4()))[:8]))


ACTIVITIES = [greet, listing, setting, ready, stamp]

#: (class, buggy, fixed, args, what the report must say)
PAIRS: list[tuple[str, Any, Any, tuple[Any, ...], str]] = [
    ("clock-branch", clock_branch_bad, clock_branch_good, (), "read the wall clock"),
    ("clock-arg", clock_arg_bad, clock_arg_good, (), "read the wall clock (time.time())"),
    ("clock-utcnow", utcnow_bad, utcnow_good, (), "datetime.utcnow()"),
    ("clock-today", today_bad, today_good, (), "date.today()"),
    ("monotonic-loop", monotonic_loop_bad, monotonic_loop_good, (), "monotonic clock"),
    ("monotonic-poll", monotonic_poll_bad, monotonic_poll_good, (), "time.monotonic()"),
    ("monotonic-perf", perf_counter_bad, perf_counter_good, (), "time.perf_counter()"),
    ("environ-get", environ_get_bad, environ_get_good, (), "read the environment"),
    ("environ-in", environ_in_bad, environ_in_good, (), "read the environment"),
    ("environ-getenv", getenv_bad, getenv_good, (), "read the environment"),
    ("files-read", file_read_bad, file_read_good, (), "opened a file"),
    ("files-exists", file_exists_bad, file_exists_good, (), "looked at the file system"),
    ("glob-order", glob_order_bad, glob_order_good, (), "listed a directory (glob.glob())"),
    ("listdir", listdir_bad, listdir_good, (), "listed a directory"),
    ("set-order", set_order_bad, set_order_good, (), "PYTHONHASHSEED"),
    ("set-two-elements", two_element_set_bad, two_element_set_good, (), "PYTHONHASHSEED"),
    ("set-first", set_first_bad, set_first_good, (["x", "y"],), "PYTHONHASHSEED"),
    ("id-order", id_order_bad, id_order_good, (), "object identity (id())"),
    ("hash-order", hash_order_bad, hash_order_good, (), "hash()"),
    ("global-counter", global_counter_bad, global_counter_good, (), "diverged"),
    ("global-iterator", global_iterator_bad, global_iterator_good, (), "diverged"),
    ("cache-dict", cache_bad, cache_good, (), "diverged"),
    ("cache-lru", lru_cache_bad, lru_cache_good, (), "diverged"),
    ("mutated-defaults", mutated_defaults_bad, mutated_defaults_good, (), "diverged"),
    ("mutated-result", mutated_result_bad, mutated_result_good, (), "diverged"),
    ("thread", thread_bad, thread_good, (), "started a thread"),
    ("daemon-thread", daemon_thread_bad, daemon_thread_good, (), "started a thread"),
    ("pool-new", new_pool_bad, new_pool_good, (), "thread"),
    ("pool-idle-worker", idle_pool_bad, idle_pool_good, (), "handed work to a thread pool"),
    ("cancel-swallowed", swallow_cancel_bad, swallow_cancel_good, (), "swallowed aion.Cancelled"),
    ("cancel-bare-except", bare_except_bad, bare_except_good, (), "swallowed aion.Cancelled"),
    ("random-branch", random_branch_bad, random_branch_good, (), "random.random()"),
    ("random-choice", random_choice_bad, random_choice_good, (), "random.choice()"),
    ("uuid4", uuid_bad, uuid_good, (), "uuid.uuid4()"),
    ("secrets", secrets_bad, secrets_good, (), "secrets.token_hex()"),
]
