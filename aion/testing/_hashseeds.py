"""Replays under other ``PYTHONHASHSEED``s: replay servers, one per hash seed.

Each call of `assert_deterministic` draws its own hash seeds from its seed
(itself fresh entropy unless given), so every call tries new ones, a
reported ``seed=`` reproduces them, and they are printed. A two-element set
of strings comes out in either order under a fresh hash seed with
probability 1/2: the order is that of the two table slots, which the keyed
hash makes uniform and independent (a collision puts the second string in a
slot as uniform), and measured so (78 pairs of short strings x 400 seeds:
0.4975 on average, ``{"left", "right"}`` 193 of 400). So k independent seeds
all keep the recording's order with probability ``2**-k``, and the fewest
that split the set with probability at least 0.999 is k = 10 (``2**-10`` =
0.00098; 9 seeds would leave 0.0020). A seed lives as long as its
interpreter, so that is also the fewest processes the check can run in.

A server costs an interpreter start and the imports of a memory replay
(about 0.1 s of CPU: no duckdb, rich, click, nor cattrs unless a value needs
it), so servers start in the background while the in-process
checks run, and the most recently used ones stay up (a call repeated with
the same seed reuses them); older ones are stopped. Answers are cached by
request, so replaying the same history again costs nothing.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Interpreters (hash seeds) the histories are replayed in: P(split 2-set) > 0.999.
DEFAULT_COUNT = 10
#: Servers kept up between calls (the most recently used ones).
KEEP = 2 * DEFAULT_COUNT
#: The largest value ``PYTHONHASHSEED`` takes (0 turns randomisation off: never drawn).
_MAX_SEED = 4_294_967_295


def draw(seed: int, count: int) -> list[int]:
    """``count`` distinct hash seeds for the call with ``seed`` (the same seed, the same ones).

    Drawn from a generator of their own, so asking for them changes nothing
    about the schedules the same seed draws.
    """
    import random

    rng = random.Random(f"aion.testing hash seeds {seed}")
    seeds: list[int] = []
    while len(seeds) < count:
        value = rng.randint(1, _MAX_SEED)
        if value not in seeds:
            seeds.append(value)
    return seeds


class _Server:
    def __init__(self, hash_seed: int) -> None:
        self.hash_seed = hash_seed
        env = dict(os.environ)
        env["PYTHONHASHSEED"] = str(hash_seed)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-P", str(Path(__file__).with_name("_isolated.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def receive(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            return {"fatal": f"the replay interpreter (PYTHONHASHSEED={self.hash_seed}) died"}
        return json.loads(line)

    def close(self) -> None:
        """Stop the server at once (it holds nothing worth a graceful end)."""
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class Pool:
    """The replay servers of this process, by hash seed, most recently used last."""

    def __init__(self) -> None:
        self._servers: list[_Server] = []
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], Any] = {}

    def _server(self, seed: int) -> _Server:
        for s in self._servers:
            if s.hash_seed == seed:
                self._servers.remove(s)
                self._servers.append(s)
                return s
        server = _Server(seed)
        self._servers.append(server)
        return server

    def seeds(self) -> list[int]:
        """The hash seeds of the servers up now, least recently used first."""
        with self._lock:
            return [s.hash_seed for s in self._servers]

    def prepare(self, seeds: Sequence[int]) -> None:
        """Start servers for these exact seeds (returns at once: they import meanwhile).

        Servers beyond the `KEEP` most recently used are stopped.
        """
        with self._lock:
            for seed in seeds:
                self._server(seed)
            while len(self._servers) > max(KEEP, len(seeds)):
                old = self._servers.pop(0)
                old.close()
                self._cache = {k: v for k, v in self._cache.items() if k[1] != old.hash_seed}

    def replay(
        self, request: dict[str, Any], seeds: Sequence[int], *, key: str | None = None
    ) -> list[tuple[int, Any]]:
        """``(hash seed, answer)`` from the server of each seed.

        Answers are cached by ``key`` (default: the request's text).
        """
        line = json.dumps(request, sort_keys=True)
        key = hashlib.blake2b((key or line).encode(), digest_size=16).hexdigest()
        with self._lock:
            servers = [self._server(seed) for seed in seeds]
            todo = [s for s in servers if (key, s.hash_seed) not in self._cache]
            for s in todo:
                s.send(line)
            for s in todo:
                self._cache[(key, s.hash_seed)] = s.receive()
            return [(s.hash_seed, self._cache[(key, s.hash_seed)]) for s in servers]

    def close(self) -> None:
        """Stop every server."""
        with self._lock:
            for s in self._servers:
                s.close()
            self._servers.clear()
            self._cache.clear()


POOL = Pool()
atexit.register(POOL.close)


def reference(fn: Callable[..., Any]) -> tuple[str, str, str | None] | None:
    """``(module, qualname, file)`` to find ``fn`` in another interpreter, or None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if module is None or "<locals>" in qualname or "<lambda>" in qualname:
        return None
    mod = sys.modules.get(module)
    if mod is None:
        return None
    value: Any = mod
    for part in qualname.split("."):
        value = getattr(value, part, None)
    if value is not fn:
        return None
    file = getattr(mod, "__file__", None) if module == "__main__" else None
    if module == "__main__" and file is None:
        return None
    return module, qualname, file


def unreachable(fns: Sequence[Callable[..., Any]]) -> list[str]:
    """The qualified names of ``fns`` another interpreter cannot find."""
    return [getattr(f, "__qualname__", repr(f)) for f in fns if reference(f) is None]


def warn_unreachable(names: Sequence[str]) -> None:
    """Say loudly that the hash-order check could not run, and why."""
    text = (
        f"aion.testing: {', '.join(names)} cannot be imported by module path and qualified "
        "name (a closure or a lambda), so its histories were NOT replayed under other "
        "PYTHONHASHSEEDs: code that issues commands in set order is not caught. Define the "
        "workflow at module level to get that check."
    )
    warnings.warn(text, UserWarning, stacklevel=4)
    sys.stderr.write(text + "\n")
