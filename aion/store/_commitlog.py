"""The heads log: what was committed, kept outside DuckDB, so a shortened history is noticed.

DuckDB replays its write-ahead log up to the first damaged or missing byte and
silently drops every commit after it (truncating a killed engine's ``.wal``
lost 4-12 of 20 workflows with no error). Nothing inside the database can
notice: a manifest written in the same transaction as the events is lost
together with them. So after each commit returns, the store appends one line to
``<db>.aion-heads`` with the last seq it made durable for each workflow of the
batch, and on open it checks that the file holds at least that much. A
checkpoint folds the WAL into the main file, after which the log starts over
(and a clean close, which checkpoints, deletes it).

The log is bound to one database by the store id kept in ``aion_meta``: a log
left beside a file that was deleted and created again is ignored. Lines carry
a checksum; a torn last line (a kill mid-write, power loss) is skipped. Writes
are plain ``write(2)`` calls without fsync: they survive a killed process (the
page cache does), and after a power loss the log may only be shorter, which
weakens the check but never raises a false alarm, because each line is written
after the commit it describes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import zlib
from typing import Final

import orjson

_log = logging.getLogger("aion")

#: Past this size the store checkpoints and the log starts over (bounds both).
LIMIT: Final = 4 * 1024 * 1024
#: A log larger than this is not one aion wrote; it is not read.
_READ_LIMIT: Final = 256 * 1024 * 1024


def path_for(db: str) -> str:
    """The heads log of a database file."""
    return db + ".aion-heads"


def _line(data: object) -> bytes:
    body = orjson.dumps(data)
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _parse(line: bytes) -> object:
    crc, _, body = line.partition(b" ")
    if len(crc) != 8 or int(crc, 16) != zlib.crc32(body):
        raise ValueError
    return orjson.loads(body)


class HeadsLog:
    """Appends the heads of each commit; reads back the highest committed seq per workflow.

    Args:
        db: The database file.
        store_id: The id recorded in the file's ``aion_meta``.
        writable: Whether this process appends (else the log is only read).
    """

    def __init__(self, db: str, store_id: str, *, writable: bool) -> None:
        self.path = path_for(db)
        self.store_id = store_id
        self.size = 0
        self._fd: int | None = None
        self.committed = self._read()
        if writable:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o600)
            self.size = os.fstat(self._fd).st_size
            if self.size == 0 or not self.committed:
                self.reset()

    def _read(self) -> dict[str, int]:
        """Highest committed seq per workflow; empty when the log is not this store's."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return {}
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > _READ_LIMIT:
                return {}
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
        lines = data.split(b"\n")
        try:
            header = _parse(lines[0])
        except ValueError:
            return {}
        if header != {"aion-heads": 1, "store": self.store_id}:
            return {}
        heads: dict[str, int] = {}
        for line in lines[1:]:
            try:
                entry = _parse(line)
            except ValueError:
                continue  # torn by a kill mid-write
            if type(entry) is not dict:
                continue
            for workflow_id, seq in entry.items():
                if type(seq) is int and seq > heads.get(workflow_id, 0):
                    heads[workflow_id] = seq
        return heads

    def record(self, heads: dict[str, int]) -> None:
        """Append the heads of a commit that has returned (never fails the commit)."""
        if self._fd is None or not heads:
            return
        line = _line(heads)
        try:
            os.write(self._fd, line)
        except OSError as exc:
            _log.warning(
                "could not append to %s (%s): damage to the WAL may go unnoticed", self.path, exc
            )
            return
        self.size += len(line)

    def reset(self) -> None:
        """Start over: everything committed so far is in the main file (after a checkpoint)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            header = _line({"aion-heads": 1, "store": self.store_id})
            os.write(self._fd, header)
            self.size = len(header)
        except OSError as exc:
            _log.warning("could not reset %s (%s)", self.path, exc)
        self.committed = {}

    def remove(self) -> None:
        """Delete the log (after a clean close: the main file holds every commit)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def close(self) -> None:
        """Close the log file."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
