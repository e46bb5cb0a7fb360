"""Points in time on the command line: ``--since 2h``, ``--until 2026-01-01T12:00``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import CliError

_AGO = re.compile(r"^(\d{1,9})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, option: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 (naive means UTC) or a span ago (``90m``, ``2d``).

    Raises:
        CliError: Neither form (exit 2), naming the option.
    """
    match = _AGO.match(text.strip())
    if match:
        span = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (now or datetime.now(UTC)) - span
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = f"{option} {text!r} is neither an ISO 8601 time nor a span ago like 30m, 2h or 7d."
        raise CliError(msg, "e.g. --since 2026-01-01T00:00 or --since 2h") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def fmt_time(at: datetime | None, *, millis: bool = True) -> str:
    """UTC time: ``2026-01-01 00:00:30.000`` (or to the second with ``millis=False``)."""
    if at is None:
        return "-"
    text = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return text + f".{at.microsecond // 1000:03d}" if millis else text
