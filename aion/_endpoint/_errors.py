"""What goes wrong on the endpoint: the endpoint itself, or the operation in the worker.

Kept apart so a caller can tell "the worker could not be asked" (an
`EndpointError`, a store error: the database is unreachable the way it is
served) from "the worker was asked and said no" (a `RemoteError`, which
carries the worker's own classification and can be rebuilt as the aion
exception it was).
"""

from __future__ import annotations

import contextlib

import aion._errors as errors
from aion._errors import AionError, StoreError


class EndpointError(StoreError):
    """The worker's endpoint could not be used (untrusted file, no answer, refused).

    Args:
        message: One sentence saying what is wrong.
        hint: What to do about it (the CLI prints it).
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class RemoteError(AionError):
    """An exception raised inside the worker while it ran an operation, carried back.

    Args:
        message: The exception's message, as the worker had it.
        type_name: Its class name in the worker (``WorkflowNotFound``, ...).
        code: The worker's classification of it (the aion CLI sends its exit
            code), or None when the worker did not classify it.
        hint: What the worker suggests doing about it.
    """

    def __init__(self, message: str, *, type_name: str, code: int | None, hint: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.code = code
        self.hint = hint

    def rebuilt(self) -> AionError:
        """The exception as aion's own class here (`AionError` when it was not one of aion's).

        So `aion.Client` raises `WorkflowNotFound` through the endpoint as it
        does on a file it opened itself.
        """
        cls = getattr(errors, self.type_name, None)
        if isinstance(cls, type) and issubclass(cls, AionError) and cls is not RemoteError:
            with contextlib.suppress(TypeError):
                return cls(str(self))
        return AionError(str(self))
