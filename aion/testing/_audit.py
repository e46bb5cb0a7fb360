"""The step audit: what workflow code touches while it runs, named by file:line.

`assert_deterministic` runs every workflow under test through `audited`: a
stand-in generator that, around each resume of the real one, installs a
profile hook on the stepping thread (and only there, and only then). The hook
sees each call the workflow code makes and records a `Finding` for the ones
an offline checker knows are outside the history: the wall and monotonic
clocks, ``datetime.now/utcnow/today``, the ``random`` module's global
instance, ``uuid1/uuid4``, ``secrets`` and ``os.urandom``, ``os.environ``,
the file system (open, listdir, scandir, stat, glob), threads and executor
work, and ``id()``/``hash()`` (which vary from one process to the next).

Calls made *by* the standard library on the workflow's behalf are traced back
to the workflow line that asked for them (``pathlib.Path.read_text`` is a file
read at the line that called it), except for clock reads, which the standard
library does for its own bookkeeping (``logging`` stamps records). Nothing of
this is in the production engine path: only the kit installs the stand-in.

Deliberate uses are allowed per call with `allow_nondeterminism`.

Between recording and replay the same stand-in perturbs what leaks in (see
`Perturbation`), so a use that was allowed but does change the commands still
shows up as a divergence.
"""

from __future__ import annotations

import builtins
import contextlib
import glob
import os
import queue
import random
import secrets
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import date
from types import FrameType, TracebackType
from typing import Any

import attrs

from aion._definitions import WorkflowDefinition, workflow_definition
from aion._errors import Cancelled
from aion.testing._perturb import Perturbation, perturb

_STDLIB = tuple(
    {os.path.normcase(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")}
)
_AION = os.path.normcase(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
_ALLOWED = threading.local()


@attrs.frozen
class Finding:
    """One thing workflow code touched that its history does not hold.

    Attributes:
        what: What it did, as a sentence fragment ("read the wall clock").
        call: The call that did it (``time.time()``).
        where: ``file:line`` of the workflow code that made the call.
    """

    what: str
    call: str
    where: str

    def describe(self, workflow: str) -> str:
        """``workflow wf read the wall clock (time.time()) at flows.py:12``."""
        return f"workflow {workflow} {self.what} ({self.call}) at {self.where}"


class allow_nondeterminism(contextlib.ContextDecorator):  # noqa: N801 - reads as a statement
    """Allow a deliberate use of something outside the history, per call.

    The step audit of `assert_deterministic` (and ``aion lint``) then leave
    the calls inside alone::

        with allow_nondeterminism("log line timestamp, not used for decisions"):
            logger.info("step at %s", time.time())

    It also works as a decorator on a helper. Outside the kit it costs a
    thread-local counter; it changes nothing about how the code runs.

    Args:
        reason: Why the use is safe (kept for readers; required so every
            exemption says why).
    """

    def __init__(self, reason: str) -> None:
        if not str(reason).strip():
            msg = "allow_nondeterminism() needs a reason: say why this use is safe."
            raise TypeError(msg)
        self.reason = reason

    def __enter__(self) -> allow_nondeterminism:
        _ALLOWED.depth = getattr(_ALLOWED, "depth", 0) + 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _ALLOWED.depth -= 1


def _allowed() -> bool:
    return bool(getattr(_ALLOWED, "depth", 0))


_USER_ROOTS: set[str] = set()


def _is_library(filename: str) -> bool:
    """Code that is not the user's: the standard library, aion, installed packages.

    Installed packages call the clock for their own bookkeeping (hypothesis
    times garbage collections from a ``gc`` callback that can run during a
    step), so only the directories holding the workflows under test count as
    user code inside ``site-packages``.
    """
    name = os.path.normcase(filename)
    if name.startswith("<") or name.startswith(_AION):
        return True
    if "site-packages" in name or "dist-packages" in name:
        return not name.startswith(tuple(_USER_ROOTS))
    return name.startswith(_STDLIB)


def add_user_code(fn: Any) -> None:
    """Count the directory of ``fn``'s module as user code, even when it is installed."""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    if filename and ("site-packages" in filename or "dist-packages" in filename):
        _USER_ROOTS.add(os.path.normcase(os.path.dirname(filename)) + os.sep)


def _where(frame: FrameType) -> str:
    from aion._interpreter._support import short_path

    return f"{short_path(frame.f_code.co_filename)}:{frame.f_lineno}"


# What each watched call means: (what, call). Direct ones count only when workflow
# code calls them itself; indirect ones also when the standard library does it for it.
_CLOCK = "read the wall clock"
_MONO = "read the monotonic clock"
_DIRECT_C: dict[Any, tuple[str, str]] = {
    time.time: (_CLOCK, "time.time()"),
    time.time_ns: (_CLOCK, "time.time_ns()"),
    time.monotonic: (_MONO, "time.monotonic()"),
    time.monotonic_ns: (_MONO, "time.monotonic_ns()"),
    time.perf_counter: (_MONO, "time.perf_counter()"),
    time.perf_counter_ns: (_MONO, "time.perf_counter_ns()"),
    time.process_time: (_MONO, "time.process_time()"),
    os.urandom: ("drew operating-system randomness", "os.urandom()"),
}
_INDIRECT_C: dict[Any, tuple[str, str]] = {
    builtins.open: ("opened a file", "open()"),
    os.open: ("opened a file", "os.open()"),
    os.listdir: ("listed a directory", "os.listdir()"),
    os.scandir: ("listed a directory", "os.scandir()"),
    os.stat: ("looked at the file system", "os.stat()"),
    os.lstat: ("looked at the file system", "os.lstat()"),
}
_DIRECT_PY: dict[Any, tuple[str, str]] = {
    uuid.uuid1.__code__: ("made a random UUID", "uuid.uuid1()"),
    uuid.uuid4.__code__: ("made a random UUID", "uuid.uuid4()"),
}
_INDIRECT_PY: dict[Any, tuple[str, str]] = {
    os._Environ.__getitem__.__code__: ("read the environment", "os.environ"),
    os._Environ.__iter__.__code__: ("read the environment", "os.environ"),
    os.getenv.__code__: ("read the environment", "os.getenv()"),
    glob.glob.__code__: ("listed a directory", "glob.glob()"),
    glob.iglob.__code__: ("listed a directory", "glob.iglob()"),
    os.walk.__code__: ("listed a directory", "os.walk()"),
    threading.Thread.start.__code__: ("started a thread", "threading.Thread.start()"),
    futures.ThreadPoolExecutor.submit.__code__: (
        "handed work to a thread pool",
        "ThreadPoolExecutor.submit()",
    ),
    futures.Executor.map.__code__: ("handed work to an executor", "Executor.map()"),
    futures.ProcessPoolExecutor.submit.__code__: (
        "handed work to a process pool",
        "ProcessPoolExecutor.submit()",
    ),
}
_RANDOM_CODES = {
    v.__code__
    for v in vars(random.Random).values()
    if callable(v) and hasattr(v, "__code__") and not v.__name__.startswith("__")
} | {random.Random.__init__.__code__}  # an unseeded random.Random() seeds from the OS
_SECRETS_FILE = os.path.normcase(secrets.__file__)
#: Where a thread waits for something else to happen: a thread stopped in one of
#: these is parked (an idle worker, a heartbeat waiting for its event), not working.
_PARKED = {
    threading.Condition.wait.__code__,
    threading.Condition.wait_for.__code__,
    threading.Event.wait.__code__,
    threading.Semaphore.acquire.__code__,
    threading.Thread.join.__code__,
    threading.Barrier.wait.__code__,
    queue.Queue.get.__code__,
    queue.Queue.put.__code__,
}
#: A thread whose top frame stays on one instruction this long is blocked in C
#: (``time.sleep``, a lock, a socket, an idle pool worker's queue): not worth waiting for.
_STILL = 0.02
_DATETIME_NAMES = {"now", "utcnow", "today"}


class Auditor:
    """Collects `Finding`s from the audited steps of one check (one thread at a time)."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str], Finding] = {}
        self.threads: list[threading.Thread] = []
        self.futures: list[futures.Future[Any]] = []
        self.executors: list[futures.ThreadPoolExecutor] = []
        self.swallowed: list[str] = []
        self.perturbation: Perturbation | None = None
        self._ident = 0
        self._submits: set[int] = set()

    def report(self, what: str, call: str, frame: FrameType) -> None:
        """Record a finding at ``frame`` (once per call site)."""
        finding = Finding(what, call, _where(frame))
        self.findings.setdefault((finding.call, finding.where), finding)

    def _user_frame(self, frame: FrameType | None) -> FrameType | None:
        while frame is not None and _is_library(frame.f_code.co_filename):
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                return None  # an import statement reading files is not the workflow's doing
            if os.path.normcase(frame.f_code.co_filename).startswith(_AION):
                return None  # back at the stand-in: the engine's own work
            frame = frame.f_back
        return frame

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if _allowed():
            return
        if event == "c_call":
            direct = _DIRECT_C.get(arg)
            if direct is not None:
                if not _is_library(frame.f_code.co_filename):
                    self.report(*direct, frame)
                return
            indirect = _INDIRECT_C.get(arg)
            if indirect is not None:
                user = self._user_frame(frame)
                if user is not None:
                    self.report(*indirect, user)
                return
            owner = getattr(arg, "__self__", None)
            if owner is random._inst:
                if not _is_library(frame.f_code.co_filename):
                    self.report("drew from the random module", f"random.{arg.__name__}()", frame)
            elif (
                isinstance(owner, type)
                and issubclass(owner, date)
                and getattr(arg, "__name__", "") in _DATETIME_NAMES
            ) and not _is_library(frame.f_code.co_filename):
                self.report(_CLOCK, f"{owner.__name__}.{arg.__name__}()", frame)
            return
        if event == "call":
            self._on_call(frame)
        elif event == "return" and frame.f_code is futures.ThreadPoolExecutor.submit.__code__:  # noqa: SIM102
            if id(frame) in self._submits and isinstance(arg, futures.Future):
                self.futures.append(arg)

    def _on_call(self, frame: FrameType) -> None:
        code = frame.f_code
        caller = frame.f_back
        if caller is None:
            return
        direct = _DIRECT_PY.get(code)
        if direct is not None:
            if not _is_library(caller.f_code.co_filename):
                self.report(*direct, caller)
            return
        indirect = _INDIRECT_PY.get(code)
        if indirect is not None:
            user = self._user_frame(caller)
            if user is not None:
                self.report(*indirect, user)
            if code is threading.Thread.start.__code__:
                thread = frame.f_locals.get("self")
                if isinstance(thread, threading.Thread):
                    self.threads.append(thread)
            elif code is futures.ThreadPoolExecutor.submit.__code__:
                self._submits.add(id(frame))
                pool = frame.f_locals.get("self")
                if isinstance(pool, futures.ThreadPoolExecutor) and pool not in self.executors:
                    self.executors.append(pool)
            return
        if code in _RANDOM_CODES and not _is_library(caller.f_code.co_filename):
            owner = frame.f_locals.get("self")
            if owner is random._inst:
                self.report("drew from the random module", f"random.{code.co_name}()", caller)
            elif isinstance(owner, random.SystemRandom):
                self.report("drew operating-system randomness", f"{code.co_name}()", caller)
            elif code.co_name == "__init__" and frame.f_locals.get("x") is None:
                self.report("made an unseeded random.Random", "random.Random()", caller)
            return
        if os.path.normcase(code.co_filename) == _SECRETS_FILE:  # noqa: SIM102
            if not _is_library(caller.f_code.co_filename):
                self.report("drew operating-system randomness", f"secrets.{code.co_name}()", caller)

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Audit (and, on replays, perturb) the code run inside, on this thread only."""
        previous = sys.getprofile()
        if previous is not None:  # a profiler runs (cProfile cannot be put back): no audit
            yield
            return
        self._ident = threading.get_ident()
        perturbed = self.perturbation
        undo = perturb(perturbed, self._ident) if perturbed is not None else None
        real_id, real_hash = builtins.id, builtins.hash
        builtins.id = self._watched(real_id, "ordered or keyed by object identity", "id()")
        builtins.hash = self._watched(
            real_hash, "hashed a value (hashes change with PYTHONHASHSEED)", "hash()"
        )
        sys.setprofile(self._profile)
        try:
            yield
        finally:
            sys.setprofile(None)
            builtins.id, builtins.hash = real_id, real_hash
            if undo is not None:
                undo()

    def _watched(self, real: Callable[[Any], int], what: str, call: str) -> Callable[[Any], int]:
        """``id``/``hash`` as seen by workflow code: also when passed as ``key=id``."""
        ident = self._ident

        def watched(obj: Any, /) -> int:
            if threading.get_ident() == ident and not _allowed():
                frame = sys._getframe(1)
                if not _is_library(frame.f_code.co_filename):
                    self.report(what, call, frame)
            return real(obj)

        return watched

    def settle(self, timeout: float = 5.0) -> None:
        """Wait for the threads and pool work audited steps started, while they work.

        In production time passes between steps, so such work has usually
        finished by the next one; on replay no time passes. Waiting for it
        here makes runs alike. It never waits on a thread that is parked
        (waiting on an event, a queue, a lock; an idle pool worker) or stuck
        on one instruction for 20 ms (blocked in C): only while something
        still moves, and at most ``timeout`` seconds in all.
        """
        me = threading.current_thread()
        threads = [t for t in self.threads if t.ident is not None and t is not me]
        pending = [f for f in self.futures if not f.done()]
        workers = [t for pool in self.executors for t in list(getattr(pool, "_threads", ()))]
        deadline = time.monotonic() + timeout
        seen: _Seen = {}
        while time.monotonic() < deadline:
            threads = [t for t in threads if t.is_alive()]
            pending = [f for f in pending if not f.done()]
            if not threads and not pending:
                break
            watched = threads + (workers if pending else [])
            if not _moving(watched, seen):
                break
            if pending:
                futures.wait(pending, 0.001, futures.FIRST_COMPLETED)
            else:
                threads[0].join(0.001)
        self.threads.clear()
        self.futures.clear()
        self.executors.clear()


_Seen = dict[int, tuple[tuple[int, int], float]]


def _moving(threads: list[threading.Thread], seen: _Seen) -> bool:
    """Whether any of ``threads`` is working (neither parked nor still since ``seen``)."""
    frames = sys._current_frames()
    now = time.monotonic()
    moving = False
    for thread in threads:
        frame = frames.get(thread.ident or -1)
        if frame is None or frame.f_code in _PARKED:
            continue
        place = (id(frame), frame.f_lasti)
        before = seen.get(thread.ident or -1)
        if before is None or before[0] != place:
            seen[thread.ident or -1] = (place, now)
            moving = True
        elif now - before[1] < _STILL:
            moving = True
    return moving


class _AuditedGenerator:
    """Drives the real workflow generator, auditing each resume.

    It exposes ``gi_yieldfrom`` and ``gi_code`` so the interpreter's source
    locations and watchdog see the real generator's frame.
    """

    def __init__(self, inner: Any, auditor: Auditor) -> None:
        self.gi_yieldfrom = inner
        self.gi_code = inner.gi_code
        self._inner = inner
        self._auditor = auditor
        self._cancel_at: str | None = None

    def __iter__(self) -> _AuditedGenerator:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        with self._auditor.step():
            return self._watch(lambda: self._inner.send(value))

    def throw(self, exc: Any, *rest: Any) -> Any:
        if isinstance(exc, Cancelled) or (isinstance(exc, type) and issubclass(exc, Cancelled)):
            frame = self._inner.gi_frame
            if frame is not None and self._cancel_at is None:
                self._cancel_at = _where(frame)
        with self._auditor.step():
            return self._watch(lambda: self._inner.throw(exc, *rest))

    def _watch(self, resume: Callable[[], Any]) -> Any:
        try:
            return resume()
        except Cancelled:
            self._cancel_at = None
            raise
        except BaseException:
            if self._cancel_at is not None:
                self._swallowed()
            raise

    def _swallowed(self) -> None:
        where = self._cancel_at
        self._cancel_at = None
        self._auditor.swallowed.append(where or "?")

    def close(self) -> None:
        self._inner.close()


def audited(workflow: Any, auditor: Auditor) -> Any:
    """A stand-in for ``workflow`` whose generator is audited step by step."""
    definition = workflow_definition(workflow)
    fn = definition.fn
    add_user_code(fn)

    def run(*args: Any, **kwargs: Any) -> Any:
        return _AuditedGenerator(fn(*args, **kwargs), auditor)

    for name in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
        setattr(run, name, getattr(fn, name, None))
    run.__wrapped__ = fn  # type: ignore[attr-defined]
    run.__aion_workflow__ = WorkflowDefinition(name=definition.name, fn=run)  # type: ignore[attr-defined]
    return run
