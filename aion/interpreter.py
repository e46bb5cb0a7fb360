"""The interpreter, for tools that drive a workflow through its history step by step.

`Interpreter` is what `aion.replay` and the engine use to run a workflow
generator against its events with no side effects; the CLI's debugger feeds it
one event at a time to show the workflow suspended at each step. `Registry`
holds the workflows and activities it resolves recorded names with. Most code
wants `aion.replay` / `aion.Replayer` instead: this is the lower level.
"""

from aion._definitions import Registry as Registry
from aion._interpreter import Interpreter as Interpreter
from aion._interpreter._support import argument_problem as argument_problem

__all__ = ["Interpreter", "Registry", "argument_problem"]
