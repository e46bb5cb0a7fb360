"""Creating a store file so that a crash at any instant leaves no file or a valid one.

DuckDB writes a new file's three 4 KiB headers one after the other; a process
killed in between leaves 0, 4096 or 8192 bytes that DuckDB refuses to open
forever after. So a new store is built under a temporary name in the same
directory (schema created, checkpointed, closed and fsynced), then linked into
place, which either happens whole or not at all, and the directory is fsynced.

A file shorter than DuckDB's three headers can never have held a committed
transaction (DuckDB writes them before it opens), so one found at the path,
empty or starting with DuckDB's header and not locked by anyone, is the
leftover of such a crash and is replaced the same way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Final

from aion._errors import StoreError

#: A DuckDB file is at least its main header and two database headers.
_HEADERS: Final = 3 * 4096
_MAGIC: Final = b"DUCK"
_MARK: Final = ".aion-new-"


def is_torn_creation(path: Path) -> bool:
    """Whether ``path`` is what a crash while DuckDB created it leaves (and nobody holds it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not (0 <= info.st_size < _HEADERS) or not Path(path).is_file():
            return False
        head = os.read(fd, 16)
        if info.st_size and head[8:12] != _MAGIC:
            return False  # some other short file: not ours to replace
        wal = Path(f"{path}.wal")
        if wal.exists() and wal.stat().st_size:
            return False
        try:  # DuckDB holds a write lock on a file it has open
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


def _fsync(path: Path | str, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(folder: Path, name: str) -> None:
    """Delete temporary files of creations whose process died (a crash mid-create)."""
    for leftover in folder.glob(f".{name}{_MARK}*"):
        pid_text = leftover.name[len(name) + 1 + len(_MARK) :].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)) and leftover.is_file():
            with contextlib.suppress(OSError):
                leftover.unlink()


def _link(tmp: Path, path: Path) -> None:
    """Put ``tmp`` at ``path`` unless a file is there already (a concurrent creation won)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if not path.exists():  # no hard links on this filesystem: rename, nearly as safe
            os.rename(tmp, path)


def create(path: Path, build: Callable[[str], None]) -> None:
    """Create the store ``path`` atomically; ``build(tmp)`` makes a complete store at ``tmp``.

    If another process creates ``path`` meanwhile, its file wins and ours is
    discarded. A torn leftover at ``path`` (see `is_torn_creation`) is replaced.

    Raises:
        aion.StoreError: The directory is missing or not writable.
    """
    folder = path.parent
    torn = path.exists() and is_torn_creation(path)
    try:
        _remove_stale(folder, path.name)
        tmp = folder / f".{path.name}{_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            build(str(tmp))
            _fsync(tmp)
            if torn:
                os.replace(tmp, path)
            else:
                _link(tmp, path)
            _fsync(folder, directory=True)
        finally:
            for leftover in (tmp, Path(f"{tmp}.wal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
    except OSError as exc:
        msg = f"cannot create {str(path)!r}: {exc.strerror or exc}."
        raise StoreError(msg) from None
