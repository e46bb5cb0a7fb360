"""Running activities: a thread pool for sync functions, one event loop for async ones.

Each attempt runs with its `ActivityInfo` available through
`aion.activity_info()`, including the stable idempotency key
``workflow_id:run_id:ordinal`` (activities are at-least-once: an attempt that
ran before a crash, without its outcome being recorded, runs again).
Arguments arrive decoded from their recorded JSON, so a first run and a
recovered run see the same values; results are encoded on the worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import attrs

from aion import _codec
from aion._definitions import ActivityDefinition
from aion._errors import AionError, CodecError, ConfigurationError
from aion._events import ErrorInfo
from aion._interpreter import decode_args


@attrs.frozen(kw_only=True)
class ActivityInfo:
    """What a running activity attempt can know about itself.

    Attributes:
        workflow_id: The calling workflow.
        run_id: The calling run.
        ordinal: The call's ordinal in the run.
        attempt: 1 for the first attempt, then 2, 3, ...
        activity: The activity's registered name.
        idempotency_key: ``workflow_id:run_id:ordinal``, stable across attempts
            and restarts: pass it to the services you call.
    """

    workflow_id: str
    run_id: str
    ordinal: int
    attempt: int
    activity: str
    idempotency_key: str


_CURRENT: contextvars.ContextVar[ActivityInfo | None] = contextvars.ContextVar(
    "aion_activity", default=None
)


def activity_info() -> ActivityInfo:
    """The `ActivityInfo` of the activity attempt running in this thread or task."""
    info = _CURRENT.get()
    if info is None:
        msg = "aion.activity_info() was called outside a running activity."
        raise AionError(msg)
    return info


Outcome = tuple[bool, Any]
"""What an executor reports for one attempt: ``(True, result)`` or ``(False, error)``.

``result`` is the activity's return value (JSON-encodable; the engine encodes
it). ``error`` is the exception the attempt raised (any `BaseException`), or
an already-recorded `ErrorInfo`.
"""
Callback = Callable[[Outcome], None]


def _failure(exc: BaseException) -> ErrorInfo:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return _codec.error_info(exc, tb)


@attrs.frozen(kw_only=True)
class Succeeded:
    """An attempt that returned: ``result`` is its value as recorded JSON."""

    result: Any


@attrs.frozen(kw_only=True)
class Failed:
    """An attempt that raised (or timed out): ``error`` is what history records."""

    error: ErrorInfo


#: An attempt's outcome as the engine records it.
Settled = Succeeded | Failed


def settle_outcome(outcome: Any, activity: str) -> Settled:
    """An executor's report in the form history records: `Succeeded` JSON or `Failed`.

    Executors written by users report what is natural to them (a raw result, a
    plain exception), so the engine normalises here, once, for every executor;
    a malformed report fails the attempt with a sentence instead of breaking
    the engine later (an exception where an `ErrorInfo` was expected used to
    surface as an ``AttributeError`` from ``result()``).
    """
    if isinstance(outcome, BaseException):
        return Failed(error=_failure(outcome))
    if not (isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[0], bool)):
        msg = (
            f"the executor reported {type(outcome).__name__} for an attempt of activity "
            f"{activity!r}; report (True, result) or (False, exception)."
        )
        return Failed(error=_failure(ConfigurationError(msg)))
    ok, value = outcome
    if not ok:
        if isinstance(value, ErrorInfo):
            return Failed(error=value)
        if isinstance(value, BaseException):
            return Failed(error=_failure(value))
        return Failed(error=ErrorInfo(type="aion.ActivityError", message=str(value)))
    if _codec.is_plain(value):
        return Succeeded(result=value)
    try:
        return Succeeded(result=_codec.to_jsonable(value, f"the result of activity {activity!r}"))
    except CodecError as exc:
        return Failed(error=_failure(exc))


@runtime_checkable
class ActivityExecutor(Protocol):
    """Where the engine runs activity attempts: implement this to use your own workers.

    Pass one as ``aion.Engine(executor=...)``. The engine calls `submit` once
    per attempt, after the call is recorded, from its own thread (so `submit`
    must return quickly), and records whatever ``done`` reports. Retries,
    timeouts and backoff stay with the engine: an executor only runs one
    attempt. `aion.FuturesExecutor` adapts any `concurrent.futures.Executor`
    (a process pool, Dask's ``Client.get_executor()``); an executor for a task
    queue (Celery, Ray) submits by ``definition.name`` and calls ``done`` when
    the task's result arrives (see the README).

    Attributes:
        waits: Whether `Engine.run_until_idle` waits for attempts in flight.
            Real executors say True; one that completes attempts only when
            told (``aion.testing``'s scheduled executor) says False.
    """

    waits: bool

    def submit(
        self,
        definition: ActivityDefinition,
        args: list[Any],
        kwargs: dict[str, Any],
        info: ActivityInfo,
        done: Callback,
    ) -> Any:
        """Start one attempt; call ``done`` exactly once with its outcome, from any thread.

        Args:
            definition: The activity (``.name``, ``.fn``, ``.is_async``).
            args: Positional arguments as recorded (JSON values); `decode_arguments`
                turns them into the annotated parameter types.
            kwargs: Keyword arguments as recorded (JSON values).
            info: The attempt's `ActivityInfo` (make it the activity's
                `activity_info()` with `run_attempt`, which does all of this).
            done: Report ``(True, result)`` or ``(False, exception)``.

        Returns:
            An object with a ``cancel()`` method (a `Future`), or None. The
            engine calls it when it stops waiting for the attempt (timeout,
            cancellation); a late report is then ignored.
        """
        ...

    def shutdown(self) -> None:
        """Stop accepting work (called by `Engine.close`)."""
        ...


def decode_arguments(definition: ActivityDefinition, args: list[Any]) -> list[Any]:
    """Recorded JSON arguments structured into the activity's annotated parameter types."""
    return decode_args(definition.fn, args, f"activity {definition.name!r}")


def run_attempt(
    fn: Callable[..., Any],
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    info: ActivityInfo,
) -> tuple[bool, Any]:
    """Run one attempt here and now, wherever "here" is (a thread, another process).

    Decodes the recorded arguments, makes ``info`` the attempt's
    `activity_info()`, runs ``fn`` (an ``async def`` on a fresh event loop),
    and returns ``(True, JSON result)`` or ``(False, ErrorInfo)``: plain,
    picklable data, so a process pool or a remote worker can send it back.
    Never raises, whatever the activity does.
    """
    token = _CURRENT.set(info)
    try:
        call_args = decode_args(fn, args, f"activity {name!r}")
        value = fn(*call_args, **kwargs)
        if asyncio.iscoroutine(value):
            value = asyncio.run(value)
        return True, _codec.to_jsonable(value, f"the result of activity {name!r}")
    except BaseException as exc:  # an activity must never take its worker down
        return False, _failure(exc)
    finally:
        _CURRENT.reset(token)


class _Job:
    """One queued sync attempt; `cancel` skips it if no thread has taken it yet.

    The attempt's whole state is on this one object (no closures: their
    functions and cells are what the cyclic collector rescans per attempt).
    """

    __slots__ = ("args", "cancelled", "definition", "done", "info", "kwargs")

    def __init__(
        self,
        definition: ActivityDefinition,
        args: list[Any],
        kwargs: dict[str, Any],
        info: ActivityInfo,
        done: Callback,
    ) -> None:
        self.definition = definition
        self.args = args
        self.kwargs = kwargs
        self.info = info
        self.done = done
        self.cancelled = False

    def cancel(self) -> bool:
        """Skip the attempt when its turn comes (a running one finishes; its report is stale)."""
        self.cancelled = True
        return True

    def run(self) -> None:
        """Run the attempt on this thread and report it exactly once; never raises."""
        definition = self.definition
        token = _CURRENT.set(self.info)
        try:
            try:
                call_args = decode_args(definition.fn, self.args, f"activity {definition.name!r}")
                value = definition.fn(*call_args, **self.kwargs)
            except BaseException as exc:  # SystemExit included: the worker thread survives
                outcome: Outcome = (False, _failure(exc))
            else:
                outcome = _encoded(value, definition.name)
            # A failing report is not the attempt's failure: it is reported once, and
            # the worker thread survives it, as it survives the activity.
            with contextlib.suppress(BaseException):
                self.done(outcome)
        finally:
            _CURRENT.reset(token)


def _encoded(value: Any, name: str) -> Outcome:
    """An attempt's return value as its outcome: the JSON of it, or the codec's failure."""
    try:
        return True, _codec.to_jsonable(value, f"the result of activity {name!r}")
    except CodecError as exc:
        return False, _failure(exc)


class _Workers:
    """Threads that take attempts from one queue, started as they are needed.

    A plain queue instead of `ThreadPoolExecutor`: the engine never waits on
    an attempt (``done`` reports it), so a `Future` per attempt (its lock, its
    condition, the state changes around it) was a fifth of the worker's time.
    Threads start only when none is idle, up to ``max_workers``: each finished
    job leaves a token that the next submit takes (a semaphore's count, kept in
    a deque whose append and pop need no lock).
    """

    def __init__(self, max_workers: int) -> None:
        self._max = max_workers
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle: deque[None] = deque()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job: _Job) -> _Job:
        self._queue.put(job)
        idle = self._idle
        if idle:  # mostly empty under load: no IndexError raised and caught per attempt
            try:
                idle.pop()
            except IndexError:  # another submitter took the last token meanwhile
                pass
            else:
                return job
        if len(self._threads) < self._max:
            self._start()
        return job

    def _start(self) -> None:
        with self._lock:
            if len(self._threads) < self._max and not self._closed:
                n = len(self._threads) + 1
                thread = threading.Thread(target=self._work, name=f"aion-activity_{n}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _work(self) -> None:
        get, idle = self._queue.get, self._idle
        while True:
            job = get()
            if job is None or self._closed:
                return
            if not job.cancelled:
                job.run()  # never raises: the attempt reports its own failure
            idle.append(None)

    def shutdown(self) -> None:
        """Drop queued attempts; running ones finish in the background."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)


class ActivityRunner:
    """Executes activity attempts off the engine thread and reports outcomes."""

    waits = True

    def __init__(self, max_workers: int) -> None:
        self._pool = _Workers(max_workers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="aion-async-activities", daemon=True
                )
                thread.start()
                self._loop, self._loop_thread = loop, thread
            return self._loop

    def submit(
        self,
        definition: ActivityDefinition,
        args: list[Any],
        kwargs: dict[str, Any],
        info: ActivityInfo,
        done: Callback,
    ) -> Any:
        """Start one attempt; ``done`` is called exactly once with its outcome.

        Returns what cancels it (a queued sync attempt is skipped; an async one
        is cancelled on its loop).
        """
        if not definition.is_async:
            return self._pool.submit(_Job(definition, args, kwargs, info, done))
        reported: list[bool] = []  # a flag a closure can set (an Event costs a Condition)

        def report(outcome: Outcome) -> None:
            if not reported:
                reported.append(True)
                done(outcome)

        async def run_async() -> None:
            token = _CURRENT.set(info)
            try:
                call_args = decode_args(definition.fn, args, f"activity {definition.name!r}")
                value = await definition.fn(*call_args, **kwargs)
                report(_encoded(value, definition.name))
            except asyncio.CancelledError:
                report((False, ErrorInfo(type="asyncio.CancelledError", message="cancelled")))
                raise
            except BaseException as exc:  # an activity must never take the engine down
                report((False, _failure(exc)))
            finally:
                _CURRENT.reset(token)

        return asyncio.run_coroutine_threadsafe(run_async(), self._event_loop())

    def shutdown(self) -> None:
        """Stop accepting work; running sync attempts finish in the background."""
        self._pool.shutdown()
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
