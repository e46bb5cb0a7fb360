"""Data from a history, made safe to print: never markup, control characters shown escaped.

A history may come from anywhere (a fixture in a bug report, a colleague's
database, another program), so its workflow ids, names, error messages and
payloads are data, not terminal input. Raw ESC sequences could clear the
screen, retitle the window, move the cursor or plant OSC 8 links, and a
``[green]order-1[/]`` id parsed as rich markup would pass for ``order-1``.
Every renderer builds history text through `data` (a `rich.text.Text`,
which rich never parses as markup) from `clean` (control characters, and
the invisible bidirectional and zero-width marks that reorder or hide text,
written as ``\\x1b``, ``\\u202e``...).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: Any, *, newlines: bool = False) -> str:
    """``str(value)`` with every control character written as an escape.

    Args:
        value: Anything; its ``str`` is cleaned.
        newlines: Keep line breaks (multi-line messages and tracebacks); an id
            or a name never keeps them, so it cannot forge a line of output.
    """
    text = str(value)
    pattern = _UNSAFE_BUT_NEWLINE if newlines else _UNSAFE
    return pattern.sub(_escape, text)


def data(value: Any, style: str = "", *, newlines: bool = False) -> Text:
    """History text as a `Text` (never markup), cleaned by `clean`."""
    from rich.text import Text

    return Text(clean(value, newlines=newlines), style=style)
