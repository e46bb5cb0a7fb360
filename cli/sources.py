"""Where a history comes from: a workflow id in the database, or a fixture file."""

from __future__ import annotations

from pathlib import Path

import attrs

from aion import fixtures
from aion.events import Event

from .app import App


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
        fixture = fixtures.load(ref)
        return Source(fixture.workflow_id, fixture.events, fixture)
    return Source(ref, tuple(app.backend().history(ref)))
