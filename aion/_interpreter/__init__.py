"""The pure interpreter: drives workflow generators from their events (no I/O)."""

from aion._events import Decision
from aion._interpreter._core import Interpreter, decode_args
from aion._interpreter._divergence import describe_decision

__all__ = ["Decision", "Interpreter", "decode_args", "describe_decision"]
