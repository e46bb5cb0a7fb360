"""What both halves of `aion.Client` check and record before a start: name, input, code.

The client runs no engine, so it does what `Engine.start` does before
recording: resolve the workflow's name, encode the input, check it against
the signature when the function is known, and name the code
(``module:qualname``) so the CLI finds it without ``-m``.
"""

from __future__ import annotations

from typing import Any

from aion import _codec
from aion._definitions import Registry, import_name, workflow_definition
from aion._errors import WorkflowArgumentError
from aion._interpreter._support import argument_problem


def start_fields(
    registry: Registry, workflow: Any, args: tuple[Any, ...]
) -> tuple[str, list[Any], str | None]:
    """``(name, JSON input, code)`` of a start, or raise before anything is recorded.

    Raises:
        aion.CodecError: An argument cannot be encoded as JSON.
        aion.WorkflowArgumentError: The function is known and refuses ``args``.
    """
    if isinstance(workflow, str):
        name = workflow
        fn = registry.workflows[name].fn if name in registry.workflows else None
    else:
        definition = workflow_definition(workflow)
        name, fn = definition.name, definition.fn
    json_args = _codec.to_jsonable(list(args), f"the input of workflow {name!r}")
    if fn is None:
        return name, json_args, None
    problem = argument_problem(fn, args)
    if problem is not None:
        msg = f"cannot start workflow {name!r}: {problem}."
        raise WorkflowArgumentError(msg)
    return name, json_args, import_name(fn)
