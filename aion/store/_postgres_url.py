"""Recognising PostgreSQL URLs, and the two things aion reads from them.

``postgresql://`` and ``postgres://`` URLs name a PostgreSQL store wherever a
database path is accepted (``aion.Engine(...)``, ``aion --db``, ``AION_DB``).
Three query parameters are aion's, not libpq's: ``aion_schema`` chooses the
schema the tables live in, ``aion_lease`` the seconds of a worker session's
lease, and ``aion_release_idle`` the seconds an engine keeps an idle workflow
before releasing it to all workers (``off``: never; engines only); all are
removed before the URL reaches the driver.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aion._errors import ConfigurationError

#: Query parameters that are aion's (never passed to libpq).
AION_PARAMETERS: Final = ("aion_schema", "aion_lease", "aion_release_idle")
#: The URL schemes that mean PostgreSQL.
SCHEMES: Final = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def is_postgres_url(target: str) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a DuckDB file."""
    return target.lower().startswith(SCHEMES)


def split_schema(url: str, default: str = "aion") -> tuple[str, str]:
    """``(url without aion's parameters, schema)`` for a PostgreSQL URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = default
    kept = []
    for key, value in query:
        if key == "aion_schema":
            schema = value
        elif key not in AION_PARAMETERS:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


def lease_seconds(url: str, default: float) -> float:
    """The ``aion_lease`` of a PostgreSQL URL (``default`` when absent).

    Raises:
        aion.ConfigurationError: It is not a number of seconds above 0.1.
    """
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == "aion_lease":
            try:
                seconds = float(value)
            except ValueError:
                seconds = 0.0
            if not seconds > 0.1:  # also refuses nan
                msg = f"aion_lease={value!r} in the database URL must be seconds above 0.1."
                raise ConfigurationError(msg)
            return seconds
    return default


def release_idle_seconds(url: str, default: float | None) -> float | None:
    """The ``aion_release_idle`` of a PostgreSQL URL: seconds, None for ``off``.

    Raises:
        aion.ConfigurationError: It is neither ``off`` nor a number of seconds above 0.
    """
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == "aion_release_idle":
            if value.lower() in ("off", "never"):
                return None
            try:
                seconds = float(value)
            except ValueError:
                seconds = 0.0
            if not 0 < seconds < float("inf"):  # also refuses nan
                msg = (
                    f"aion_release_idle={value!r} in the database URL must be seconds above 0, "
                    "or 'off'."
                )
                raise ConfigurationError(msg)
            return seconds
    return default


def redact(dsn: str) -> str:
    """``dsn`` with any password replaced, fit for messages and logs."""
    text = _PASSWORD.sub(r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text)
