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
    names = [declared] if declared else recorded_names(histories)
    if not names:
        return Code()
    return load_recorded(
        names, path=app.import_path, note=app.note, origin=origin, qualified=not declared
    )


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
