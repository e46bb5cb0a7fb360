"""The CLI's error contract: exit codes, `CliError`, and how any exception is classified.

Kept apart from `app` so that every module that raises or classifies errors
(the loader, the backend, the worker endpoint) depends on this small module
only, never on `App` (which depends on them): the package has no import circle.

Exit codes:

* 0 ok;
* 1 a divergence, or a workflow that failed, was cancelled or is stalled;
* 2 a usage error (bad arguments, unknown workflow id, code not found);
* 3 a store or history error (locked, damaged or foreign file, bad fixture).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE = 3


class CliError(Exception):
    """An error the CLI itself detected, with the exit code and hint to show.

    Args:
        message: One sentence saying what is wrong.
        hint: What to do about it.
        code: The exit code.
    """

    def __init__(self, message: str, hint: str = "", code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and hint for an exception (shared by the CLI and the worker endpoint)."""
    if isinstance(exc, CliError):
        return exc.code, exc.hint
    import aion  # here, not at the top: `aion --help` never needs it
    from aion.endpoint import EndpointError, RemoteError

    if isinstance(exc, RemoteError):  # the worker classified it (with this function) before sending
        return (exc.code if exc.code is not None else EXIT_STORE), exc.hint
    if isinstance(exc, EndpointError):
        return EXIT_STORE, exc.hint
    if isinstance(exc, aion.NondeterminismError):
        return EXIT_FAILED, "guard the change with aion.patched(), or revert it."
    if isinstance(exc, aion.WorkflowFailedError | aion.WorkflowCancelledError):
        return EXIT_FAILED, "`aion inspect ID` shows the history that led there."
    if isinstance(exc, aion.WorkflowStalledError):
        return EXIT_FAILED, "`aion describe ID` says why; deploy fixed code and restart the worker."
    if isinstance(exc, aion.WorkflowNotFound):
        return EXIT_USAGE, "`aion list` shows the workflows in this database."
    if isinstance(exc, aion.NotRegisteredError):
        return EXIT_USAGE, "pass the module that defines it with -m MODULE."
    if isinstance(exc, aion.WorkflowAlreadyExists):
        return EXIT_USAGE, "choose another --id, or inspect the existing one."
    if isinstance(exc, aion.WorkflowClosed):
        return EXIT_USAGE, "only running workflows take signals and cancel requests."
    if isinstance(exc, aion.QueryError):
        return (
            EXIT_USAGE,
            "queries are registered in the workflow with aion.on_query(name, handler).",
        )
    if isinstance(exc, aion.WorkflowBlocked):
        return EXIT_FAILED, "send it the signal it waits for with `aion signal`."
    if isinstance(exc, aion.WorkflowArgumentError):
        return EXIT_USAGE, "pass the workflow's arguments after MODULE:WORKFLOW (JSON values)."
    if isinstance(exc, aion.ConfigurationError | aion.CodecError):
        return EXIT_USAGE, "check the arguments (they are JSON values)."
    if isinstance(exc, aion.StoreLockedError):
        return EXIT_STORE, "stop the process that holds the file, or start `aion worker` on it."
    if isinstance(exc, aion.StoreError):
        return EXIT_STORE, "check the --db path (or AION_DB)."
    if isinstance(exc, aion.HistoryError):
        return EXIT_STORE, "the history or fixture is malformed; re-export it with `aion export`."
    if isinstance(exc, aion.InternalError):
        return EXIT_STORE, "this is a bug in aion; please report it with --debug output."
    if isinstance(exc, aion.AionError):
        return EXIT_STORE, "run again with --debug for details."
    return EXIT_STORE, "this looks like a bug; run again with --debug for the traceback."
