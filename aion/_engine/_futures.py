"""`FuturesExecutor`: activity attempts on any `concurrent.futures.Executor`.

The engine's own executor runs attempts on threads, which is right for I/O.
CPU-bound activities want processes (the GIL), and a team that already runs
a Dask cluster wants its attempts there. Both speak `concurrent.futures`:
``ProcessPoolExecutor`` and Dask's ``Client.get_executor()`` take
``submit(fn, *args)`` and hand back a future. This adapter sends each
attempt through such an executor as one picklable call (`run_attempt` with
the activity function, its recorded JSON arguments and its `ActivityInfo`),
and reports the plain data it returns.

A function crosses a process boundary by reference (its module and name),
so an activity run this way must be a module-level function the worker can
import. One that is not (a lambda, a function defined inside another, or in
a ``__main__`` the workers do not share) fails its attempt with
`aion.NotPicklableError` saying so, and is not retried.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from multiprocessing.reduction import ForkingPickler
from typing import Any

from aion._definitions import ActivityDefinition
from aion._engine._activities import ActivityInfo, Callback, run_attempt
from aion._errors import NotPicklableError


class FuturesExecutor:
    """Run activity attempts on a `concurrent.futures.Executor` (`Engine(executor=...)`).

    Args:
        pool: The executor to submit to: a ``ProcessPoolExecutor`` for CPU-bound
            activities, Dask's ``Client.get_executor()``, or any executor whose
            ``submit(fn, *args)`` returns a `concurrent.futures.Future`. The
            caller keeps ownership: `shutdown` leaves it running. None creates a
            ``ProcessPoolExecutor`` (processes started with ``spawn``, which is
            safe in the engine's multi-threaded process) that the engine shuts
            down when it closes.
        max_workers: Processes of the pool created when ``pool`` is None.

    A running attempt cannot be stopped in another process: when the engine
    gives up on one (its timeout, a cancellation) its late result is ignored.
    """

    waits = True

    def __init__(self, pool: Executor | None = None, *, max_workers: int | None = None) -> None:
        self._owned = pool is None
        self._pool: Executor = (
            pool
            if pool is not None
            else ProcessPoolExecutor(
                max_workers=max_workers, mp_context=multiprocessing.get_context("spawn")
            )
        )
        # Only a process pool pickles with the stdlib pickle, by reference; a thread
        # pool needs nothing, and Dask ships functions with cloudpickle.
        self._pickles = isinstance(self._pool, ProcessPoolExecutor)
        self._portable: dict[Any, str | None] = {}  # per function: why it cannot travel
        self._lock = threading.Lock()

    def _why_not_portable(self, definition: ActivityDefinition) -> str | None:
        fn = definition.fn
        with self._lock:
            if fn in self._portable:
                return self._portable[fn]
        try:
            ForkingPickler.dumps(fn)  # serialises only: what the pool would send
            problem = None
        except Exception as exc:  # PicklingError, AttributeError, TypeError: all say "cannot"
            problem = (
                f"activity {definition.name!r} cannot be sent to a worker process: "
                f"{type(exc).__name__}: {exc}. Define it at module level, in a module the "
                "workers can import."
            )
        with self._lock:
            self._portable[fn] = problem
        return problem

    def submit(
        self,
        definition: ActivityDefinition,
        args: list[Any],
        kwargs: dict[str, Any],
        info: ActivityInfo,
        done: Callback,
    ) -> Future[Any] | None:
        """Submit one attempt; ``done`` gets its outcome when the future settles."""
        problem = self._why_not_portable(definition) if self._pickles else None
        if problem is not None:
            done((False, NotPicklableError(problem)))
            return None
        future = self._pool.submit(run_attempt, definition.fn, definition.name, args, kwargs, info)

        def settled(f: Future[Any]) -> None:
            try:
                outcome = f.result()
            except CancelledError as exc:
                done((False, exc))
            except BaseException as exc:
                if isinstance(exc, AttributeError | TypeError) or type(exc).__name__ == (
                    "PicklingError"
                ):
                    # Raised by the pool while sending the call (an argument type the
                    # worker cannot import): the attempt never started.
                    msg = f"activity {definition.name!r} could not be sent to a worker: {exc}"
                    done((False, NotPicklableError(msg)))
                else:  # the worker died (BrokenProcessPool), ...
                    done((False, exc))
            else:
                done(outcome)

        future.add_done_callback(settled)
        return future

    def shutdown(self) -> None:
        """Shut down the pool this executor created; a pool passed in stays the caller's."""
        if self._owned:
            self._pool.shutdown(wait=False, cancel_futures=True)
