"""Which code a command runs a history against: ``-m``, else what the history records.

Since `WorkflowStarted` records the workflow's import name
(``module:qualname``), ``aion replay ID``, ``replay --all``, ``debug``, an
offline ``query`` and ``replay FIXTURE.json`` find the code without being
told. The recorded name is only ever a dotted name looked up on the import
path (see `loader.load_recorded`); ``-m`` overrides it, and histories
recorded before the field existed still work with ``-m``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import aion
from aion.events import Event, WorkflowStarted

from .app import App
from .errors import EXIT_USAGE, CliError
from .loader import Code, load, load_recorded


def recorded_names(histories: Iterable[Sequence[Event]]) -> list[str]:
    """Every ``module:qualname`` the histories' starts record, first seen first."""
    names: dict[str, None] = {}
    for events in histories:
        for event in events:
            if isinstance(event, WorkflowStarted) and event.code is not None:
                names.setdefault(event.code)
    return list(names)


def code_for(
    app: App,
    histories: Iterable[Sequence[Event]],
    *,
    origin: str,
    declared: str | None = None,
) -> Code:
    """The code to run ``histories`` against.

    Args:
        app: The invocation (its ``-m`` modules and ``--path`` directories).
        histories: The histories to be replayed (their starts name the code).
        origin: What recorded the names, for the line saying what is imported.
        declared: A fixture's own ``"module"``, which comes before its events'.
    """
    if app.modules:
        return load(app.modules, path=app.import_path)
    histories = list(histories)
    names = [declared] if declared else recorded_names(histories)
    if not names and not declared:
        names = _parents_names(app, histories)
    if not names:
        return Code()
    return load_recorded(
        names, path=app.import_path, note=app.note, origin=origin, qualified=not declared
    )


#: How many parents up a child's code is looked for.
MAX_ANCESTORS = 8


def _parents_names(app: App, histories: Sequence[Sequence[Event]]) -> list[str]:
    """The code recorded by the parents of child workflows (whose own starts name none).

    The engine records the code of the workflow a user starts; a child is
    started by its parent's code, and is almost always defined beside it.
    """
    pending = [
        e.parent_id
        for events in histories
        for e in events
        if isinstance(e, WorkflowStarted) and e.parent_id is not None
    ]
    seen: set[str] = set()
    for _ in range(MAX_ANCESTORS):
        parents = [p for p in dict.fromkeys(pending) if p not in seen]
        if not parents:
            return []
        seen.update(parents)
        found: list[Sequence[Event]] = []
        for parent in parents:
            try:
                found.append(app.backend().history(parent))
            except (aion.WorkflowNotFound, CliError):
                continue  # imported alone, or a fixture: no parent to ask
        names = recorded_names(found)
        if names:
            return names
        pending = [
            e.parent_id
            for events in found
            for e in events
            if isinstance(e, WorkflowStarted) and e.parent_id is not None
        ]
    return []


def require_code(code: Code, what: str) -> Code:
    """``code``, or a usage error when nothing named any workflow code."""
    if not code.workflows:
        where = f" in {', '.join(code.modules)}" if code.modules else ""
        msg = f"{what} needs the workflow code, and none was found{where}."
        hint = (
            "pass -m MODULE (the module that defines the workflows); histories "
            "recorded before aion recorded the code's name always need it."
        )
        raise CliError(msg, hint, EXIT_USAGE)
    return code
