"""Where a history comes from (a workflow id or a fixture file), and the source lines it names."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from aion.events import Event

from .app import App

if TYPE_CHECKING:
    from aion import fixtures


@attrs.frozen
class Source:
    """A history and what it is called.

    Attributes:
        workflow_id: The workflow id (recorded in the fixture, or the id asked for).
        events: The history.
        fixture: The loaded fixture, when the history came from a file.
    """

    workflow_id: str
    events: tuple[Event, ...]
    fixture: fixtures.Fixture | None = None


def is_fixture_path(ref: str) -> bool:
    """Whether ``ref`` names a fixture file rather than a workflow id."""
    return ref.endswith(".json") and Path(ref).is_file()


def load_source(app: App, ref: str) -> Source:
    """A fixture file when ``ref`` is one, else workflow ``ref`` from the database."""
    if is_fixture_path(ref):
        from aion import fixtures  # replay's machinery: loaded only for a fixture

        fixture = fixtures.load(ref)
        return Source(fixture.workflow_id, fixture.events, fixture)
    return Source(ref, tuple(app.backend().history(ref)))


#: At most this much of a source file is read to find one line.
MAX_SOURCE_BYTES = 4 * 1024 * 1024
#: A line shown is cut to this many characters.
MAX_LINE_CHARS = 300


def source_line(path: str, number: int) -> str:
    """Line ``number`` of a Python source file, or "" when it cannot be shown.

    The path comes from a history, which may be hostile: only a regular file
    whose real name ends in ``.py`` is opened (never a device, a FIFO or a
    private file reached through a link), without blocking, and at most
    `MAX_SOURCE_BYTES` of it are read.
    """
    if number < 1:
        return ""
    real = os.path.realpath(path)
    if not real.endswith(".py"):
        return ""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        chunks: list[bytes] = []
        size = 0
        while size < MAX_SOURCE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_SOURCE_BYTES - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return ""
    finally:
        os.close(fd)
    lines = b"".join(chunks).decode("utf-8", errors="replace").splitlines()
    return lines[number - 1].strip()[:MAX_LINE_CHARS] if number <= len(lines) else ""
